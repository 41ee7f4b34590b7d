"""The bind hook: a process in a guarded cgroup listens on loopback whatever it asks for."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.runtime import bindguard

UNIFIED = Path("/sys/fs/cgroup/unified")
V2 = UNIFIED if (UNIFIED / "cgroup.controllers").exists() else Path("/sys/fs/cgroup")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (V2 / "cgroup.controllers").exists(),
    reason="the bind hook needs root and a cgroup v2 hierarchy")

BIND = """
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0))
s.listen()
print(s.getsockname()[0])
"""


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Path]:
    """A fresh cgroup with the hook attached."""
    group = V2 / f"roost-test-{os.getpid()}-{tmp_path.name}"
    group.mkdir()
    try:
        assert bindguard.attach(group) is None
        assert bindguard.attach(group) is None  # again: replaces, does not stack
        yield group
    finally:
        group.rmdir()


def bound(group: Path | None, address: str) -> str:
    """Where a process (in ``group``, if given) that binds ``address`` ends up listening."""
    join = f"echo $$ > {group}/cgroup.procs; " if group else ""
    done = subprocess.run(["sh", "-c", f'{join}exec "$0" -c "$1" "$2"', sys.executable, BIND,
                           address], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("asked", "listens"), [
    ("0.0.0.0", "127.0.0.1"),
    ("127.0.0.2", "127.0.0.2"),
    ("::", "::ffff:127.0.0.1"),
    ("::1", "::1"),
    ("::ffff:127.0.0.3", "::ffff:127.0.0.3"),
])
def test_every_bind_lands_on_loopback(guarded: Path, asked: str, listens: str) -> None:
    assert bound(guarded, asked) == listens


def test_processes_outside_the_group_bind_where_they_ask() -> None:
    assert bound(None, "0.0.0.0") == "0.0.0.0"

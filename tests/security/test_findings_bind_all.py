"""Finding: port-mode apps listened on 0.0.0.0, reachable from other machines without the
router. Their binds are now rewritten to loopback by the kernel (runtime/bindguard.py), so
the usual ``--bind 0.0.0.0:$PORT`` and ``::`` apps keep working, through the router only."""

from __future__ import annotations

import os
import pwd
import socket
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok
from tests.security.hostile import get

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the bind hook needs root")


def listeners_of(uid: int) -> set[str]:
    """The addresses TCP sockets of ``uid`` listen on (IPv4 and IPv6)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and int(fields[7]) == uid:
                raw = bytes.fromhex(fields[1].rpartition(":")[0])
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, words))
    return found


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_an_app_that_binds_every_interface_listens_on_loopback_only(
        server: Server, tmp_path: Path, bind: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Procfile").write_text(f"web: exec python3 -m http.server $PORT --bind {bind}\n")
    (src / "index.html").write_text("open to all?\n")
    ok(server, "apps", "create", "wide")
    assert server.roost("deploy", "wide", str(src), timeout=300).returncode == 0
    uid = pwd.getpwnam("roost-app-wide").pw_uid
    wait_for(lambda: bool(listeners_of(uid)), timeout=30)
    assert listeners_of(uid) <= {"127.0.0.1", "::ffff:127.0.0.1"}, listeners_of(uid)
    page = get(server, "wide.localhost", "/index.html")
    assert page.status_code == 200 and page.text == "open to all?\n"

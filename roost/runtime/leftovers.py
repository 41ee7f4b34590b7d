"""Processes a crashed Roost left behind, recorded so the next start can end them safely.

A PID alone names a different process once the kernel reuses it, so each one is recorded
with its start time (field 22 of ``/proc/PID/stat``, clock ticks since boot) and command
line, and a leftover's process group is killed only when its leader still has both.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Recorded:
    """One process group leader as it was when recorded."""

    pid: int
    start: int
    cmdline: str


def identify(pid: int) -> Recorded | None:
    """The process ``pid`` as it is now, or None when there is none (or /proc hides it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        start = int(fields[19])  # field 22 overall; this list starts at field 3
    except (IndexError, ValueError):
        return None
    return Recorded(pid, start, cmdline.decode("utf-8", "replace"))


def settled(pid: int, timeout: float = 1.0) -> Recorded | None:
    """``identify(pid)`` once the process has finished its exec.

    A parent learns that exec succeeded when the kernel closes the child's close-on-exec
    descriptors, a moment before it sets the new program's arguments: read in between,
    the command line is empty, and a record of that would never match the process again.
    """
    deadline = time.monotonic() + timeout
    now = identify(pid)
    while now is not None and not now.cmdline and time.monotonic() < deadline:
        time.sleep(0.001)
        now = identify(pid)
    return now


def record(path: Path, pids: list[int]) -> None:
    """Write the identity of each live process in ``pids`` to ``path``."""
    found = [asdict(r) for r in (settled(pid) for pid in pids) if r is not None]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(found))
    tmp.replace(path)


def load(path: Path) -> list[Recorded]:
    """The recorded processes; entries without an identity (an older file) are left out."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    out = []
    for item in raw if isinstance(raw, list) else []:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            out.append(Recorded(int(item["pid"]), int(item["start"]), str(item["cmdline"])))
    return out


def kill(path: Path) -> list[int]:
    """SIGKILL every recorded process (its group, if it leads one) that is still the same one.

    Returns the PIDs signalled. A PID now used by another process is left alone.
    """
    killed = []
    for entry in load(path):
        if entry.pid <= 1 or identify(entry.pid) != entry:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(entry.pid) == entry.pid != os.getpgrp():
                os.killpg(entry.pid, signal.SIGKILL)  # the app's children with it
            else:
                os.kill(entry.pid, signal.SIGKILL)
            killed.append(entry.pid)
    return killed

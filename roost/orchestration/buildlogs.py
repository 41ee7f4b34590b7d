"""Each build's output in a file of its own, so the dashboard can follow a running build and
show a finished one whole (the build record keeps only the last lines).

Files live in ``ROOST_HOME/build-logs/APP/ID.log`` (directories 0700, files 0600, opened with
``O_NOFOLLOW``); each app keeps its newest :data:`KEEP` logs.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from roost.orchestration.steps import Emit

KEEP = 20


def path(home: Path, app: str, build_id: int) -> Path:
    """Where build ``build_id`` of ``app`` writes its output."""
    return home / "build-logs" / app / f"{build_id}.log"


def _line(event: dict[str, Any]) -> str | None:
    if event.get("type") == "output":
        return str(event.get("line", ""))
    if event.get("type") == "step":
        return f"-----> {event.get('message', '')}"
    return None


def _append(target: Path, text: str) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, text.encode("utf-8", "replace"))
    finally:
        os.close(fd)


def _prune(folder: Path) -> None:
    logs = sorted((p for p in folder.glob("*.log") if p.stem.isdigit()), key=lambda p: int(p.stem))
    for old in logs[:-(KEEP - 1)]:  # the new one makes KEEP
        old.unlink(missing_ok=True)


def tee(home: Path, app: str, build_id: int, emit: Emit) -> Emit:
    """``emit``, also writing each output line and step message to the build's log file."""
    target = path(home, app, build_id)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _prune(target.parent)

    def both(event: dict[str, Any]) -> None:
        line = _line(event)
        if line is not None:
            with contextlib.suppress(OSError):  # the log is a convenience; the build goes on
                _append(target, line.rstrip("\n") + "\n")
        emit(event)

    return both


def read_from(home: Path, app: str, build_id: int, offset: int) -> tuple[list[str], int]:
    """Complete lines of the build's log after byte ``offset``, and the offset after them."""
    target = path(home, app, build_id)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # none yet, or something planted that is not a plain file
        return [], offset
    with os.fdopen(fd, "rb") as fh:
        fh.seek(offset)
        data = fh.read(4 * 1024 * 1024)
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    lines = data[:end].decode("utf-8", "replace").split("\n")
    return lines, offset + end + 1

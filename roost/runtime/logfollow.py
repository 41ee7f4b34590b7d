"""Following an app's log file without a thread: an async generator for streaming responses.

``AppLogs.follow`` blocks a thread in ``time.sleep`` until a line arrives, so a client that
goes away from a quiet app keeps a worker thread for as long as the stream was allowed to
last. This one sleeps on the event loop and asks ``gone()`` between polls, so a closed
connection ends it within one poll interval.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

from roost.runtime.logs import matches

MAX_LINE = 64 * 1024  # a longer line is cut there; the rest follows as the next line


async def follow(path: Path, source: str | None, gone: Callable[[], Awaitable[bool]],
                 stop_after: float, poll: float = 0.2) -> AsyncIterator[str]:
    """New lines of ``path`` from ``source`` until ``gone()`` says so or time runs out."""
    path.touch(exist_ok=True)
    deadline = time.monotonic() + stop_after
    fh = path.open("rb")
    try:
        fh.seek(0, os.SEEK_END)
        partial = b""
        while time.monotonic() < deadline:
            chunk = fh.readline(MAX_LINE - len(partial))
            if chunk:
                partial += chunk
                if not partial.endswith(b"\n") and len(partial) < MAX_LINE:
                    continue  # the writer is mid-line: wait for the rest
                line = partial.decode("utf-8", "replace").rstrip("\n")
                partial = b""
                if matches(line, source):
                    yield line
                continue
            if await gone():
                return
            if _rotated(path, fh):
                fh.close()
                fh = path.open("rb")
                continue
            await asyncio.sleep(poll)
    finally:
        fh.close()


def _rotated(path: Path, fh: BinaryIO) -> bool:
    """Whether the file at ``path`` is no longer the one open as ``fh`` (the log rotated)."""
    try:
        return os.stat(path).st_ino != os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return False

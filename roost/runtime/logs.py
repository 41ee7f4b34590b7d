"""App logs: one append-only file per app, lines stamped with time and source.

A line looks like ``2026-11-28T16:20:01.123Z app[web.1]: GET / 200``; platform events use
sources like ``roost[deploy]``. Files rotate at a size limit (one previous file kept).

Process output reaches these files in pieces of at most 64 KiB (:mod:`roost.lines`), so a
line here is never longer than that plus its stamp and the `` [line continues]`` mark.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

MAX_BYTES = 20 * 1024 * 1024


def stamp() -> str:
    """The current UTC time as an ISO 8601 string with milliseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class AppLogs:
    """Writes and reads the log files of every app under one directory."""

    def __init__(self, root: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One open handle per app and its size: opening and stat-ing the file for every line
        # cost ~25 us, paid for each access-log line of every app.
        self._open: dict[str, tuple[TextIO, int]] = {}

    def path(self, app: str) -> Path:
        """The current log file of an app."""
        return self.root / f"{app}.log"

    def write(self, app: str, source: str, line: str) -> None:
        """Append one line from ``source`` (``app[web.1]``, ``roost[deploy]``)."""
        text = f"{stamp()} {source}: {line.rstrip()}\n"
        with self._lock:
            fh, size = self._open.get(app) or self._reopen(app)
            if size > self.max_bytes:
                fh.close()
                self.path(app).replace(self.path(app).with_suffix(".log.1"))
                fh, size = self._reopen(app)
            fh.write(text)
            fh.flush()  # readers (tail, follow) see every line at once
            self._open[app] = (fh, size + len(text.encode("utf-8", "replace")))

    def _reopen(self, app: str) -> tuple[TextIO, int]:
        fd = os.open(self.path(app), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW,
                     0o600)
        fh = open(fd, "a", encoding="utf-8", errors="replace")  # noqa: SIM115  kept open
        self._open[app] = (fh, fh.tell())
        return self._open[app]

    def event(self, app: str, what: str, message: str) -> None:
        """A platform event, e.g. ``event(app, "deploy", "v3 is live")``."""
        self.write(app, f"roost[{what}]", message)

    def tail(self, app: str, lines: int = 100, source: str | None = None) -> list[str]:
        """The last ``lines`` lines, optionally only from one source (``web.2`` or ``app``)."""
        kept: deque[str] = deque(maxlen=max(lines, 0))
        for path in (self.path(app).with_suffix(".log.1"), self.path(app)):
            if not path.exists():
                continue
            with path.open(encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if matches(line, source):
                        kept.append(line.rstrip("\n"))
        return list(kept)

    def follow(self, app: str, source: str | None = None, poll: float = 0.2,
               stop_after: float | None = None) -> Iterator[str]:
        """New lines as they are written (until ``stop_after`` seconds, if given)."""
        path = self.path(app)
        path.touch(exist_ok=True)
        started = time.monotonic()
        with path.open(encoding="utf-8", errors="replace") as fh:
            fh.seek(0, 2)
            while stop_after is None or time.monotonic() - started < stop_after:
                line = fh.readline()
                if not line:
                    time.sleep(poll)
                    continue
                if matches(line, source):
                    yield line.rstrip("\n")

    def remove(self, app: str) -> None:
        """Delete an app's logs."""
        with self._lock:
            opened = self._open.pop(app, None)
            if opened:
                opened[0].close()
        for path in (self.path(app), self.path(app).with_suffix(".log.1")):
            path.unlink(missing_ok=True)


def matches(line: str, source: str | None) -> bool:
    """Whether a log line comes from ``source``: ``web.2``, ``web``, ``app`` or ``roost``."""
    if not source:
        return True
    parts = line.split(" ", 2)
    if len(parts) < 2:
        return False
    src = parts[1].rstrip(":")
    if source in ("app", "roost"):
        return src.startswith(source + "[")
    inner = src[src.find("[") + 1 : -1] if "[" in src else src
    return inner == source or inner.split(".")[0] == source

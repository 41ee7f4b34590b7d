"""One-off tasks on a swarm (`roost run`): a replicated job, its output, then its exit code."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

DONE = ("complete", "failed", "rejected", "shutdown")


def follow(client: Any, service: Any, cleanup: Callable[[], None],
           deadline: float | None = None) -> Iterator[str | int]:
    """Yield the job's output lines as they come, then its exit code; remove it at the end.

    When ``deadline`` (a ``time.monotonic()``) passes first, the exit code is 124.
    """
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        try:
            for raw in client.api.service_logs(service.id, follow=True, stdout=True,
                                               stderr=True):
                for line in raw.decode(errors="replace").splitlines():
                    lines.put(line)
        except Exception:
            return

    threading.Thread(target=pump, daemon=True).start()
    code: int | None = None
    checked = 0.0
    try:
        while code is None:
            try:
                line: str | None = lines.get(timeout=0.2)
            except queue.Empty:
                line = None
            if line is not None:
                yield line
            now = time.monotonic()
            if deadline is not None and now > deadline:
                code = 124
                break
            if now - checked < 0.5:  # a chatty job: look at its state twice a second
                continue
            checked = now
            done = [t for t in service.tasks() if t["Status"]["State"] in DONE]
            if done:
                status = done[0]["Status"]
                code = int((status.get("ContainerStatus") or {}).get("ExitCode", 1))
        end = time.monotonic() + 1.0  # the log stream may still hold the last lines
        while time.monotonic() < end:
            try:
                yield lines.get(timeout=0.1)
            except queue.Empty:
                continue
        yield code
    finally:
        service.remove()
        cleanup()

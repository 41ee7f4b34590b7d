"""One-off tasks on a swarm (`roost run`): a replicated job, its output, then its exit code."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

DONE = ("complete", "failed", "rejected", "shutdown")


def follow(client: Any, service: Any, cleanup: Callable[[], None]) -> Iterator[str | int]:
    """Yield the job's output lines as they come, then its exit code; remove it at the end."""
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
    try:
        while code is None:
            try:
                yield lines.get(timeout=0.2)
                continue
            except queue.Empty:
                pass
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

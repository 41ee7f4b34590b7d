"""App logs on a swarm: each service's task output, followed into Roost's app log files.

One thread per app service follows ``docker service logs`` (every task, on every node) and
writes each line to the app's log with its process name (``web.2``), so `roost logs` and
``--follow`` read the same files as on the local runtime.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from roost.runtime.logs import AppLogs

log = logging.getLogger("roost.swarm.logs")


class LogPump:
    """Follows the logs of every Roost app service into :class:`AppLogs`."""

    def __init__(self, client: Any, logs: AppLogs) -> None:
        self.client = client
        self.logs = logs
        self._following: set[str] = set()
        self._lock = threading.Lock()
        self.started = int(time.time())

    def watch(self, stop: threading.Event, labels_of: Any, age_of: Any) -> None:
        """Until ``stop``: every second, follow each app service not followed yet (one-off
        ``run`` tasks stream their own output)."""
        while not stop.wait(1.0):
            try:
                for service in self.client.services.list(filters={"label": "roost.app"}):
                    labels = labels_of(service)
                    if not labels.get("roost.once"):
                        self.follow(service.id, labels["roost.app"], labels["roost.type"],
                                    age_of(service.attrs["CreatedAt"]))
            except Exception as exc:
                log.warning("swarm log follower: %s", exc)

    def follow(self, service_id: str, app: str, ptype: str, age: float) -> None:
        """Start following one service (once); ``age``: seconds since it was created."""
        with self._lock:
            if service_id in self._following:
                return
            self._following.add(service_id)
        # A service older than this process had its earlier lines written by the one before.
        since = self.started if time.time() - age < self.started else 0
        threading.Thread(target=self._pump, args=(service_id, app, ptype, since),
                         name=f"roost-logs-{app}-{ptype}", daemon=True).start()

    def _pump(self, service_id: str, app: str, ptype: str, since: int) -> None:
        slots: dict[str, str] = {}
        try:
            stream = self.client.api.service_logs(service_id, details=True, follow=True,
                                                  stdout=True, stderr=True, since=since)
            for raw in stream:
                for line in raw.decode(errors="replace").splitlines():
                    detail, _, text = line.partition(" ")
                    task = dict(p.split("=", 1) for p in detail.split(",") if "=" in p)
                    task_id = task.get("com.docker.swarm.task.id", "")
                    if task_id not in slots:
                        slots[task_id] = self._slot(task_id)
                    self.logs.write(app, f"{ptype}.{slots[task_id]}", text)
        except Exception as exc:  # the service went away: its tasks said all they had to
            log.debug("log stream of %s ended: %s", service_id, exc)
        finally:
            with self._lock:
                self._following.discard(service_id)

    def _slot(self, task_id: str) -> str:
        try:
            return str(self.client.api.inspect_task(task_id).get("Slot") or "1")
        except Exception:
            return "?"

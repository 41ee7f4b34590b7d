"""An app's services on the swarm, one generation per deploy or restart: finding them, the
newest of each process type, their tasks as `roost ps` rows, and the release secrets no
service uses any more."""

from __future__ import annotations

import logging
from typing import Any

from roost.runtime.swarm import tasks

log = logging.getLogger("roost.swarm")


def services(client: Any, app: str, ptype: str | None = None) -> list[Any]:
    """Every service of ``app`` (of process type ``ptype`` when given), any generation."""
    label = [f"roost.app={app}"] + ([f"roost.type={ptype}"] if ptype else [])
    return list(client.services.list(filters={"label": label}))


def current(client: Any, app: str) -> dict[str, Any]:
    """The newest service of each process type (one-off runs left out)."""
    newest: dict[str, Any] = {}
    for service in services(client, app):
        labels = tasks.labels_of(service)
        if labels.get("roost.once"):
            continue
        kept = newest.get(labels["roost.type"])
        if kept is None or int(labels["roost.gen"]) > int(tasks.labels_of(kept)["roost.gen"]):
            newest[labels["roost.type"]] = service
    return newest


def task_rows(client: Any, newest: dict[str, Any]) -> list[dict[str, object]]:
    """`roost ps` rows of the running tasks of ``newest`` (process type -> service)."""
    nodes = {n.id: (n.attrs.get("Description") or {}).get("Hostname", "")
             for n in client.nodes.list()}
    rows: list[dict[str, object]] = []
    for ptype, service in sorted(newest.items()):
        labels = tasks.labels_of(service)
        every = list(service.tasks())
        for task in every:
            if task["DesiredState"] != "running":
                continue
            slot = int(task.get("Slot") or 0)
            state = task["Status"]["State"]
            rows.append({"name": f"{ptype}.{slot}", "type": ptype, "number": slot,
                         "state": "up" if state == "running" else state,
                         "release": int(labels["roost.release"]),
                         "uptime_s": round(tasks.age(task["Status"]["Timestamp"]), 1),
                         "restarts": sum(1 for t in every if t.get("Slot") == slot) - 1,
                         "pid": 0, "node": nodes.get(task.get("NodeID", ""), "")})
    return sorted(rows, key=lambda r: (str(r["type"]), int(str(r["number"]))))


def drop_secrets(client: Any, app: str, keep: set[str]) -> None:
    """Remove ``app``'s release secrets but ``keep`` and those a service still names."""
    for secret in client.secrets.list(filters={"label": f"roost.app={app}"}):
        if secret.name not in keep and not _secret_in_use(client, secret.name):
            try:
                secret.remove()
            except Exception as exc:  # still used by a draining task: next time
                log.debug("secret %s kept: %s", secret.name, exc)


def _secret_in_use(client: Any, name: str) -> bool:
    return any(tasks.labels_of(s).get("roost.secret") == name
               for s in client.services.list(filters={"label": "roost.app"}))

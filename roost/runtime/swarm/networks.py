"""App networks on a swarm: each app's tasks on an overlay network no other app's tasks are
on, so they reach their own tasks and the router, never another app's.

The networks are a pool (``roost-apps-00``, ``-01``…) made before they are needed, and the
router is on all of them from its start: giving an app a network then changes nothing in
the router, whose task on each node already takes part in every pool network (so Docker's
DNS there learns of a new task at once). An app keeps the network its services carry
(label ``roost.network``); a new app takes one no other app's service is on. Only when the
pool is used up does it grow by :data:`BATCH`, and the router joins the new networks in a
rolling update, one node at a time.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("roost.swarm")
PREFIX = "roost-apps-"
LABEL = "app-pool"
SERVICE_LABEL = "roost.network"
BATCH = 8


def pool(client: Any) -> list[str]:
    """The names of the pool's networks, sorted."""
    return sorted(n.name for n in client.networks.list(filters={"label": f"roost={LABEL}"})
                  if n.name.startswith(PREFIX))


def grow(client: Any, have: list[str]) -> list[str]:
    """Make the next :data:`BATCH` networks of the pool; their names."""
    start = len(have)
    made = []
    for number in range(start, start + BATCH):
        name = f"{PREFIX}{number:02d}"
        if not client.networks.list(names=[name]):
            client.networks.create(name, driver="overlay", attachable=False,
                                   labels={"roost": LABEL})
        made.append(name)
    log.info("swarm: app networks %s to %s made", made[0], made[-1])
    return made


def ensure_pool(client: Any) -> list[str]:
    """The pool, made (its first batch) when there is none."""
    return pool(client) or grow(client, [])


def assign(client: Any, app: str, reserved: dict[str, str]) -> tuple[str, list[str]]:
    """``app``'s network (the one its services are on or it was given, else a free one),
    and the networks made for it when the pool was used up (the router must join those).
    ``reserved``: app -> network given to apps whose services may not exist yet."""
    mine, taken = reserved.get(app, ""), {n for a, n in reserved.items() if a != app}
    for service in client.services.list(filters={"label": SERVICE_LABEL}):
        labels = service.attrs["Spec"].get("Labels") or {}
        if labels.get("roost.app") == app:
            mine = mine or labels[SERVICE_LABEL]
        else:
            taken.add(labels[SERVICE_LABEL])
    if mine:
        return mine, []
    have = pool(client)
    free = [n for n in have if n not in taken]
    if free:
        return free[0], []
    made = grow(client, have)
    return made[0], made


def ids(client: Any, names: list[str]) -> dict[str, str]:
    """Network name -> id, for those of ``names`` that exist."""
    found: dict[str, str] = {}
    for network in client.networks.list(names=names):
        if network.name in names:
            found[network.name] = network.id
    return found

"""Each app's own overlay network, so that an app's tasks reach its own tasks and the
router, never another app's.

Tasks of app APP join ``roost-app-APP`` only; the router joins every app's network (and
the shared ``ROOST_SWARM_NETWORK``, where tasks deployed before per-app networks still
run until their next deploy). An app's first deploy creates its network and attaches the
router to it: a rolling update of the router service, one node at a time. A destroyed
app's network stays (a few addresses), ready for an app of the same name.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("roost.swarm")
PREFIX = "roost-app-"
LABEL = "app-network"


def name(app: str) -> str:
    """The overlay network of ``app``'s tasks."""
    return f"{PREFIX}{app}"


def ensure(client: Any, app: str) -> str:
    """``app``'s network, created when missing; its name."""
    wanted = name(app)
    if not client.networks.list(names=[wanted]):
        client.networks.create(wanted, driver="overlay", attachable=False,
                               labels={"roost": LABEL, "roost.app": app})
        log.info("swarm: made network %s for %s", wanted, app)
    return wanted


def app_networks(client: Any) -> list[str]:
    """The names of every app's network, sorted."""
    return sorted(n.name for n in client.networks.list(filters={"label": f"roost={LABEL}"}))


def ids(client: Any, names: list[str]) -> dict[str, str]:
    """Network name -> id, for those of ``names`` that exist."""
    found: dict[str, str] = {}
    for network in client.networks.list(names=names):
        if network.name in names:
            found[network.name] = network.id
    return found

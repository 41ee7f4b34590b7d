"""App networks on a swarm: each app's tasks on an overlay network no other app's tasks are
on, so they reach their own tasks and the router, never another app's.

The networks are a pool (``roost-apps-00``, ``-01``…) made before they are needed, and the
router is on all of them from its start: giving an app a network then changes nothing in
the router, whose task on each node already takes part in every pool network (so Docker's
DNS there learns of a new task at once). An app keeps the network its services carry
(label ``roost.network``); a new app takes one no other app's service is on. Only when the
pool is used up does it grow by :data:`BATCH`, and the router joins the new networks in a
rolling update, one node at a time.

Who has which network is kept in the swarm itself, so that every control-plane host sees
the same answer: a swarm config ``roost-netclaim-NETWORK`` names the app on the network.
Config names are unique in the swarm's replicated store, so when two hosts deploy two new
apps at once only one of them can create the claim on a network; the other moves on to the
next. When an app is removed, a ``roost-netcool-NETWORK`` config is made before its claim
goes: the network stays taken until its tasks have drained (the stop grace period and a
margin), so a new app never shares a network with a removed app's last tasks.
"""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import datetime
from typing import Any

from roost.errors import RuntimeFailure

log = logging.getLogger("roost.swarm")
PREFIX = "roost-apps-"
LABEL = "app-pool"
SERVICE_LABEL = "roost.network"
BATCH = 8
CLAIM = "roost-netclaim-"
COOL = "roost-netcool-"
CLAIM_LABEL = "roost.pool-network"
DRAIN_MARGIN = 30.0  # seconds past the grace period before a removed app's network is free


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
            _create_once(client.networks.create, name, driver="overlay", attachable=False,
                         labels={"roost": LABEL})
        made.append(name)
    log.info("swarm: app networks %s to %s made", made[0], made[-1])
    return made


def ensure_pool(client: Any) -> list[str]:
    """The pool, made (its first batch) when there is none."""
    return pool(client) or grow(client, [])


def assign(client: Any, app: str, grace: float) -> tuple[str, list[str]]:
    """``app``'s network (the one it holds a claim on or its services are on, else a free one
    it now claims), and the networks made for it when the pool was used up (the router must
    join those). ``grace``: the stop grace period, how long a removed app's tasks drain."""
    claims, cooling = _claims(client)
    taken = {n for n, holder in claims.items() if holder != app}
    mine = next((n for n, holder in claims.items() if holder == app), "")
    for service in client.services.list(filters={"label": SERVICE_LABEL}):
        labels = service.attrs["Spec"].get("Labels") or {}
        if labels.get("roost.app") == app:
            mine = mine or labels[SERVICE_LABEL]
        else:
            taken.add(labels[SERVICE_LABEL])
    if mine:
        if mine not in claims:  # services deployed before claims existed
            _claim(client, mine, app)
        return mine, []
    now = _epoch(client.info().get("SystemTime", "")) if cooling else None
    for network, released in cooling.items():
        if now is None or released is None or now - released < grace + DRAIN_MARGIN:
            taken.add(network)  # still draining, or a time that cannot be read
        else:
            _remove_config(client, COOL + network)
    have, made = pool(client), list[str]()
    for _ in range(4):  # a batch each round; others' claims can take a batch at most
        for network in have:
            if network not in taken:
                if _claim(client, network, app):
                    return network, made
                taken.add(network)  # another host's app claimed it first
        made = grow(client, have)
        have = sorted({*have, *made})
    raise RuntimeFailure(f"no free app network for {app} among {len(have)}: other hosts "
                         f"claimed each one first; deploy again (claims: the swarm's configs "
                         f"named {CLAIM}*)")


def release(client: Any, app: str) -> None:
    """Give ``app``'s network back to the pool once its tasks can have drained."""
    claims, _ = _claims(client)
    for network, holder in claims.items():
        if holder == app:
            _remove_config(client, COOL + network)  # a stale one from an earlier holder
            _create_once(client.configs.create, name=COOL + network, data=app.encode(),
                         labels={CLAIM_LABEL: network})
            _remove_config(client, CLAIM + network)


def _claims(client: Any) -> tuple[dict[str, str], dict[str, float | None]]:
    """Network -> the app claiming it, and network -> when its last app released it (the
    cooling mark's creation, by the manager's clock: control-plane hosts' clocks may
    differ); read in one listing, so a release (mark made, then claim removed) is never
    missed."""
    claims: dict[str, str] = {}
    cooling: dict[str, float | None] = {}
    for config in client.configs.list(filters={"label": CLAIM_LABEL}):
        labels = config.attrs["Spec"].get("Labels") or {}
        network = labels.get(CLAIM_LABEL, "")
        if config.name == CLAIM + network:
            claims[network] = labels.get("roost.app", "")
        elif config.name == COOL + network:
            cooling[network] = _epoch(config.attrs.get("CreatedAt", ""))
    return claims, cooling


def _epoch(stamp: str) -> float | None:
    """Seconds since the epoch of a Docker timestamp (RFC 3339, nanoseconds); None when it
    cannot be read."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", stamp)
    if match is None:
        return None
    whole = datetime.fromisoformat(match[1] + ("+00:00" if match[3] == "Z" else match[3]))
    return whole.timestamp() + float(match[2] or 0)


def _claim(client: Any, network: str, app: str) -> bool:
    """Create the claim of ``app`` on ``network``; False when another app holds it."""
    import docker

    try:
        client.configs.create(name=CLAIM + network, data=app.encode(),
                              labels={CLAIM_LABEL: network, "roost.app": app})
    except docker.errors.APIError as exc:
        if exc.status_code != 409:
            raise
        return _claims(client)[0].get(network) == app
    return True


def _create_once(create: Any, *args: Any, **kwargs: Any) -> None:
    """Call ``create``; an object of that name made meanwhile by another host is fine."""
    import docker

    try:
        create(*args, **kwargs)
    except docker.errors.APIError as exc:
        if exc.status_code != 409:
            raise


def _remove_config(client: Any, name: str) -> None:
    import docker

    for config in client.configs.list(filters={"name": name}):
        if config.name == name:
            with contextlib.suppress(docker.errors.NotFound):
                config.remove()


def ids(client: Any, names: list[str]) -> dict[str, str]:
    """Network name -> id, for those of ``names`` that exist."""
    found: dict[str, str] = {}
    for network in client.networks.list(names=names):
        if network.name in names:
            found[network.name] = network.id
    return found

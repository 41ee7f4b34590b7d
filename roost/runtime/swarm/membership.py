"""How a new machine joins the swarm Roost runs apps on: a manager's address and the join
token, read from the manager at ``DOCKER_HOST`` (what the ``docker-node`` recipe needs)."""

from __future__ import annotations

from dataclasses import dataclass

from roost.errors import RuntimeFailure
from roost.runtime.swarm.calls import swarm_call


@dataclass(frozen=True)
class JoinTicket:
    """``docker swarm join --token TOKEN MANAGER``: as a worker or as a manager."""

    manager: str
    token: str
    as_manager: bool


@swarm_call
def join_ticket(as_manager: bool) -> JoinTicket:
    """The address of the manager at ``DOCKER_HOST`` and the swarm's worker (or manager)
    join token."""
    import docker

    client = docker.from_env(timeout=30)
    try:
        swarm = client.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise RuntimeFailure("DOCKER_HOST is not a swarm manager: hosts cannot join a "
                                 "swarm; run `docker swarm init` there (or point "
                                 "DOCKER_HOST at a manager)")
        tokens = client.swarm.attrs.get("JoinTokens") or {}
    finally:
        client.close()
    managers = sorted(swarm.get("RemoteManagers") or [],
                      key=lambda m: m.get("NodeID") != swarm.get("NodeID"))  # this one first
    address = next((m.get("Addr") for m in managers if m.get("Addr")), "")
    token = tokens.get("Manager" if as_manager else "Worker") or ""
    if not address or not token:
        raise RuntimeFailure("the swarm manager gave no address or join token to join with")
    if address.startswith("127.") or address.startswith("[::1]"):
        raise RuntimeFailure(f"the swarm manager advertises {address}, which other machines "
                             "cannot reach: re-create the swarm with `docker swarm init "
                             "--advertise-addr ADDRESS`")
    return JoinTicket(address, token, as_manager)

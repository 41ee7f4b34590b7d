"""How a new machine joins the swarm Roost runs apps on: a manager's address and the join
token, read from the manager at ``DOCKER_HOST`` (what the ``docker-node`` recipe needs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from roost.errors import RuntimeFailure
from roost.runtime.swarm.calls import swarm_call

UPDATE_TRIES = 5  # a node update the swarm refuses as out of sequence is read and sent again


@dataclass(frozen=True)
class JoinTicket:
    """``docker swarm join --token TOKEN MANAGER``: as a worker or as a manager."""

    manager: str
    token: str
    as_manager: bool


@contextmanager
def _manager() -> Iterator[Any]:
    """A Docker SDK client of the manager at ``DOCKER_HOST``, closed afterwards."""
    import docker

    client = docker.from_env(timeout=30)
    try:
        yield client
    finally:
        client.close()


@swarm_call
def join_ticket(as_manager: bool) -> JoinTicket:
    """The address of the manager at ``DOCKER_HOST`` and the swarm's worker (or manager)
    join token."""
    with _manager() as client:
        swarm = client.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise RuntimeFailure("DOCKER_HOST is not a swarm manager: hosts cannot join a "
                                 "swarm; run `docker swarm init` there (or point "
                                 "DOCKER_HOST at a manager)")
        tokens = client.swarm.attrs.get("JoinTokens") or {}
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


@dataclass(frozen=True)
class RoleChange:
    """A swarm node whose role differs from its host's roles in Roost."""

    node_id: str
    hostname: str
    as_manager: bool

    @property
    def operation(self) -> str:
        """What the change does, as a plan or apply shows it."""
        return ("Promote to a swarm manager (docker node promote)" if self.as_manager
                else "Demote to a swarm worker (docker node demote)")


@swarm_call
def role_changes(wanted: dict[str, bool]) -> dict[str, RoleChange]:
    """For hosts in the swarm (by address) whose node is not what ``wanted`` says (address ->
    as a manager), the change; hosts not in the swarm yet are left to the join."""
    with _manager() as client:
        found: dict[str, RoleChange] = {}
        for node in client.nodes.list():
            attrs = node.attrs
            addresses = {(attrs.get("Status") or {}).get("Addr", ""),
                         ((attrs.get("ManagerStatus") or {}).get("Addr") or "").rpartition(":")[0]}
            address = next((a for a in addresses if a in wanted), None)
            if address is None or (attrs.get("Status") or {}).get("State") == "down":
                continue
            is_manager = (attrs.get("Spec") or {}).get("Role") == "manager"
            if is_manager != wanted[address]:
                found[address] = RoleChange(node.id, attrs["Description"]["Hostname"],
                                            wanted[address])
        return found


@swarm_call
def set_role(change: RoleChange) -> None:
    """Promote or demote the node; never the manager Roost itself talks to."""
    import docker

    with _manager() as client:
        if not change.as_manager and client.info()["Swarm"].get("NodeID") == change.node_id:
            raise RuntimeFailure(f"{change.hostname} is the manager at DOCKER_HOST, which "
                                 "Roost manages the swarm through: point DOCKER_HOST at "
                                 "another manager before demoting it")
        for attempt in range(UPDATE_TRIES):
            # The node's version goes with the update; the swarm refuses it ("update out of
            # sequence") when the node changed since it was read, as a node that has just
            # joined does while it reports in: read it again and retry.
            node = client.nodes.get(change.node_id)
            spec = dict(node.attrs["Spec"])
            spec["Role"] = "manager" if change.as_manager else "worker"
            try:
                node.update(spec)
                return
            except docker.errors.APIError as exc:
                if "out of sequence" in str(exc) and attempt + 1 < UPDATE_TRIES:
                    continue
                raise RuntimeFailure(f"could not change the swarm role of {change.hostname}: "
                                     f"{exc.explanation or exc}") from exc

"""Hosts with a swarm role (``docker-node``, ``docker-manager``) when apps run on a swarm:
the join tickets their recipe needs, and their role in the swarm kept as Roost says."""

from __future__ import annotations

from typing import Any

from roost.errors import RoostError
from roost.hosts import recipebook
from roost.orchestration.platform import Platform
from roost.runtime.swarm import membership
from roost.store.models.hosts import Host


def join_tickets(ctx: Platform, rows: list[Host]) -> dict[bool, dict[str, str]]:
    """The join tickets (by ``as_manager``) that hosts with a swarm role among ``rows``
    need, read from the manager when apps run on a swarm (else none: Docker only)."""
    if ctx.settings.runtime != "swarm":
        return {}
    wanted = {recipebook.SWARM_ROLES[role] for r in rows for role in r.roles
              if role in recipebook.SWARM_ROLES}
    tickets = {as_manager: membership.join_ticket(as_manager) for as_manager in wanted}
    return {k: {"manager": t.manager, "token": t.token} for k, t in tickets.items()}


def sync_roles(mode: str, rows: list[Host], out: dict[str, dict[str, Any]]) -> None:
    """A host already in the swarm whose role there is not its roles' (a ``docker-node``
    given ``docker-manager``, or back): promoted or demoted from the manager, after its
    recipes ran; shown as one more operation of the host's plan or apply."""
    wanted = {r.address: m for r in rows
              if (m := recipebook.swarm_membership(list(r.roles))) is not None}
    changes = membership.role_changes(wanted)
    for row in rows:
        entry, change = out.get(row.name), changes.get(row.address)
        if change is None or not entry or entry.get("error") or entry.get("failed"):
            continue
        op: dict[str, Any] = {"name": change.operation, "will_change": True, "diff": []}
        if mode == "apply":
            try:
                membership.set_role(change)
                op["status"] = "changed"
            except RoostError as exc:
                op["status"], entry["error"] = "failed", str(exc)
        entry.setdefault("operations", []).append(op)

"""Everything `roost pg info` and the dashboard's database panel show of an app's database:
where it is, its size and connections, the last verified backup, the point-in-time window
and a summary of diagnose. No secrets; a server that cannot be reached is said in words."""

from __future__ import annotations

from roost.addons.base import AddonEnv, State
from roost.addons.postgres import archiving, backups, diagnose, ops
from roost.addons.postgres.addon import cluster, is_managed, login_role
from roost.errors import RoostError


def last_verified(env: AddonEnv, app: str) -> str:
    """The newest backup proven by a restore, in words."""
    found = [r for r in backups.list_backups(env.sessions, app) if r.status == "verified"]
    if not found:
        return "none yet"
    newest = found[0]
    when = newest.verified_at.isoformat(timespec="seconds") if newest.verified_at else "?"
    return f"{newest.id} (verified {when})"


def pitr_window(env: AddonEnv, state: State) -> str:
    """The point-in-time window of the app's database, in words."""
    if not is_managed(state["server"]):
        return "none: the server is not Roost's own, so its operator keeps its WAL"
    try:
        found = archiving.configured(env.settings, cluster(env.settings, state["server"]))
        return archiving.describe_window(found)
    except RoostError as exc:
        return f"unknown: {exc}"


def diagnose_summary(checks: list[dict[str, str]]) -> str:
    """``6 green, 1 yellow (primary keys), 0 red``."""
    parts = []
    for colour in ("green", "yellow", "red"):
        names = [c["name"] for c in checks if c["status"] == colour]
        named = f" ({', '.join(names)})" if names and colour != "green" else ""
        parts.append(f"{len(names)} {colour}{named}")
    return ", ".join(parts)


def summary(env: AddonEnv, app: str, state: State) -> dict[str, str]:
    """Facts of the app's database for `roost pg info`, `roost addons APP` and the dashboard."""
    facts = {"database": state["database"], "user": login_role(state),
             "server": "Roost's PostgreSQL" if is_managed(state["server"]) else "external",
             "connections": f"?/{state['connections']}", "rotated_at": state["rotated_at"]}
    try:
        facts.update(ops.info(env.settings, state))
        facts["diagnose"] = diagnose_summary(diagnose.diagnose(env.settings, state))
    except RoostError as exc:
        facts["status"] = f"unreachable: {exc}"
    facts["last_verified_backup"] = last_verified(env, app)
    facts["pitr_window"] = pitr_window(env, state)
    return facts

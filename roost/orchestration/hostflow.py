"""Hosts, end to end: add (pin the key, prove the login, first facts), refresh facts and
alert, plan and rolling apply of recipes, each apply recorded.

Each flow reads as its steps: look the hosts up in the store, run pyinfra on them in the
worker (:mod:`roost.hosts.runner`), record what came back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core import apps as apps_core
from roost.errors import Conflict, InvalidInput, NotFound
from roost.hosts import batches, checks, keys, recipebook, runner
from roost.hosts.target import SshTarget, check_name, check_roles, parse_url
from roost.monitor.uptime import addresses
from roost.notify import MAIL_CHANNELS, PAGE_CHANNELS, enqueue
from roost.orchestration import recipients, swarmhosts
from roost.orchestration.platform import Platform
from roost.store.base import utcnow
from roost.store.models import App
from roost.store.models.hosts import Host, HostApply, RecipeSource

APP_TARGET = "app:"  # HostApply.target of an app's own recipe run: "app:NAME"
log = logging.getLogger("roost.hosts")


@dataclass(frozen=True)
class Scan:
    """What `roost hosts add` shows before pinning: the key the server presents."""

    address: str
    port: int
    type: str
    fingerprint: str


def _target(url: str) -> SshTarget:
    """The SSH target of ``url``, refused on a link-local or cloud metadata address (as
    monitor targets are): the control plane opens connections from its own network."""
    target = parse_url(url)
    try:
        addresses.check(target.address, addresses.resolve(target.address))
    except addresses.RefusedAddress as exc:
        raise InvalidInput(f"refused {target.url}: "
                           f"{exc.message.removeprefix('monitor target ')}") from exc
    return target


def scan(url: str) -> Scan:
    """The host key the server at ``url`` presents (for the user to confirm)."""
    target = _target(url)
    found = keys.scan(target.address, target.port)
    return Scan(target.address, target.port, found.type, found.fingerprint)


def _host(session: Session, name: str) -> Host:
    found = session.scalar(select(Host).where(Host.name == name))
    if found is None:
        raise NotFound(f"no host named {name!r}: `roost hosts` lists them")
    return found


def _private_key(ctx: Platform, row: Host) -> str:
    if row.private_key_encrypted is None:
        return keys.platform_key(ctx.settings.home)[0]
    return ctx.cipher.decrypt(row.private_key_encrypted)


def _ports(ctx: Platform, roles: list[str]) -> dict[str, list[int]]:
    router = int(ctx.settings.router_listen.rpartition(":")[2])
    tcp, udp = {80, 443, router}, set()
    for role in roles:
        extra = recipebook.ROLE_PORTS.get(role, {})
        tcp.update(extra.get("tcp", []))
        udp.update(extra.get("udp", []))
    return {"roost_tcp_ports": sorted(tcp), "roost_udp_ports": sorted(udp)}


def _spec(ctx: Platform, row: Host, company: Path | None = None,
          swarm: dict[bool, dict[str, str]] | None = None) -> runner.HostSpec:
    data: dict[str, Any] = {"roost_ssh_port": row.port, "roost_roles": list(row.roles),
                            **_ports(ctx, list(row.roles))}
    as_manager = recipebook.swarm_membership(list(row.roles))
    if as_manager is not None and swarm and as_manager in swarm:
        data["roost_swarm_join"] = swarm[as_manager]
    if row.user != "root":  # recipes configure the machine: through sudo (pyinfra's _sudo)
        data["_sudo"] = True
    return runner.HostSpec(
        name=row.name, address=row.address, port=row.port, user=row.user,
        private_key=_private_key(ctx, row),
        host_key=keys.HostKey(row.host_key_type, row.host_key, row.fingerprint),
        roles=list(row.roles), recipes=recipebook.files_for(list(row.roles), company),
        data=data)


def explain(name: str, error: str, fingerprint: str, platform_key: str = "") -> str:
    """One line for a host that could not be used over SSH."""
    if "host key" in error.lower():
        return (f"host key of {name} changed: it is no longer {fingerprint}; refused. If the "
                f"machine was rebuilt, check its new key on its console, then `roost hosts "
                f"rekey {name}`")
    if "authentication" in error.lower():
        hint = (f"; add Roost's key to its authorized_keys: {platform_key}" if platform_key
                else "; check the --key file and the user")
        return f"cannot log in to {name}: {error}{hint}"
    return f"cannot reach {name} over SSH: {error}"


def add(ctx: Platform, actor: str, name: str, url: str, host_key: str, roles: list[str],
        private_key: str | None = None, apps: list[str] | None = None) -> Host:
    """Add a host: pin ``host_key`` (refusing another), log in, gather its first facts."""
    check_name(name)
    roles = check_roles(roles)
    target = _target(url)
    expected = keys.check_fingerprint(host_key)
    if private_key is not None:
        keys.check_private_key(private_key)
    with ctx.sessions.begin() as session:
        if session.scalar(select(Host).where(Host.name == name)) is not None:
            raise Conflict(f"host {name} exists already: `roost hosts remove {name}` first")
        for app in apps or []:
            apps_core.get(session, app)
    found = keys.pin(keys.scan(target.address, target.port), expected, name)
    row = Host(name=name, user=target.user, address=target.address, port=target.port,
               roles=roles, apps=list(apps or []), host_key_type=found.type,
               host_key=found.blob, fingerprint=found.fingerprint,
               private_key_encrypted=ctx.cipher.encrypt(private_key) if private_key else None)
    result = runner.run("facts", [_spec(ctx, row)])[name]
    if not result.get("connected") or "facts" not in result:
        public = "" if private_key else keys.platform_key(ctx.settings.home)[1]
        raise InvalidInput(explain(name, result.get("error", ""), found.fingerprint, public))
    row.facts, row.facts_at = result["facts"], utcnow()
    with ctx.sessions.begin() as session:
        if session.scalar(select(Host).where(Host.name == name)) is not None:
            raise Conflict(f"host {name} exists already: `roost hosts remove {name}` first")
        session.add(row)
        session.flush()
        session.expunge(row)
    log.info("%s added host %s (%s, %s)", actor, name, target.url, found.fingerprint)
    return row


def rekey(ctx: Platform, name: str, host_key: str) -> Host:
    """Pin the new key of a rebuilt host (``host_key``, as the user checked it) once Roost
    logs in with it; its roles, apps and private key stay. The apps' own recipes run again
    at their next deploy (what ran is remembered per host key)."""
    expected = keys.check_fingerprint(host_key)
    row = get(ctx, name)
    if expected == row.fingerprint:
        raise InvalidInput(f"{name} already has the host key {expected}: nothing to change")
    found = keys.pin(keys.scan(row.address, row.port), expected, name)
    row.host_key_type, row.host_key, row.fingerprint = found.type, found.blob, found.fingerprint
    result = runner.run("facts", [_spec(ctx, row)])[name]
    if not result.get("connected") or "facts" not in result:
        public = "" if row.private_key_encrypted else keys.platform_key(ctx.settings.home)[1]
        raise InvalidInput(explain(name, result.get("error", ""), found.fingerprint, public))
    with ctx.sessions.begin() as session:
        current = _host(session, name)
        current.host_key_type, current.host_key = found.type, found.blob
        current.fingerprint = found.fingerprint
        current.facts, current.facts_at = result["facts"], utcnow()
        current.reachable, current.last_error, current.failed_checks = True, "", 0
        session.flush()
        session.expunge(current)
    log.info("host %s re-keyed to %s", name, found.fingerprint)
    return current


def recipes_ran_by(session: Session, host: Host) -> set[str]:
    """The apps whose own recipes ran on ``host`` since it was added (the apply log)."""
    rows = session.scalars(select(HostApply).where(HostApply.target.like(f"{APP_TARGET}%"),
                                                   HostApply.started_at >= host.created_at))
    return {r.target[len(APP_TARGET):] for r in rows if host.name in (r.results or {})}


def set_roles(ctx: Platform, name: str, roles: list[str]) -> Host:
    """Give the host ``roles`` (replacing its roles); ``roost hosts apply`` then makes the
    machine match. A host where an app's own recipes ran (root there) cannot take a role
    that serves the platform: it is the app's machine, not one to trust with others."""
    roles = check_roles(roles)
    with ctx.sessions.begin() as session:
        row = _host(session, name)
        platform_roles = sorted(set(roles) & set(recipebook.ROLE_PORTS) - set(row.roles))
        ran = sorted(recipes_ran_by(session, row))
        if platform_roles and ran:
            raise Conflict(f"{name} ran the own recipes of {', '.join(ran)} (root on the "
                           f"machine), so it cannot take the role {', '.join(platform_roles)}"
                           ", which serves the platform and other apps: use a fresh host",
                           code="host_not_dedicated")
        row.roles = roles
        session.flush()
        session.expunge(row)
    log.info("host %s roles: %s", name, ", ".join(roles) or "-")
    return row


def get(ctx: Platform, name: str) -> Host:
    """One host."""
    with ctx.sessions.begin() as session:
        row = _host(session, name)
        session.expunge(row)
        return row


def list_all(ctx: Platform) -> list[Host]:
    """Every host, by name."""
    with ctx.sessions.begin() as session:
        rows = list(session.scalars(select(Host).order_by(Host.name)))
        session.expunge_all()
        return rows


def remove(ctx: Platform, name: str) -> None:
    """Forget a host (its key and facts); nothing on the machine changes. A host that
    runs apps (``--runtime vm``) is refused: they would lose their way to it."""
    with ctx.sessions.begin() as session:
        row = _host(session, name)
        placed = sorted(a.name for a in session.scalars(select(App))
                        if ((a.settings or {}).get("vm") or {}).get("host") == name)
        if placed:
            raise Conflict(f"{name} runs the app(s) {', '.join(placed)}: destroy them (`roost "
                           f"apps destroy APP`) before removing the host")
        session.delete(row)


def select_hosts(ctx: Platform, name: str = "", role: str = "") -> list[Host]:
    """The hosts a plan or apply is for: one by name, those with a role, or all."""
    if name and role:
        raise InvalidInput("give a host NAME or --role ROLE, not both")
    if name:
        return [get(ctx, name)]
    rows = list_all(ctx)
    if role:
        check_roles([role])
        rows = [r for r in rows if role in r.roles]
        if not rows:
            raise InvalidInput(f"no host has role {role!r}: `roost hosts` lists hosts and roles")
    elif not rows:
        raise InvalidInput("there are no hosts: add one with `roost hosts add NAME ssh://…`")
    return rows


def company_recipes(ctx: Platform) -> recipebook.Source | None:
    """The company's recipes as last set (a git source is brought up to date)."""
    with ctx.sessions.begin() as session:
        row = session.scalar(select(RecipeSource).order_by(RecipeSource.id.desc()))
        source = row.source if row is not None else ""
    if not source:
        return None
    return recipebook.fetch(source, ctx.settings.home)


def set_recipes(ctx: Platform, actor: str, source: str) -> recipebook.Source:
    """Use the recipes at ``source`` (a folder or git URL) from now on; checked first."""
    found = recipebook.fetch(source, ctx.settings.home)
    with ctx.sessions.begin() as session:
        session.add(RecipeSource(source=found.source, revision=found.revision, actor=actor))
    return found


def recorded_source(ctx: Platform) -> RecipeSource | None:
    """The recipe source as recorded (no fetch)."""
    with ctx.sessions.begin() as session:
        row = session.scalar(select(RecipeSource).order_by(RecipeSource.id.desc()))
        if row is not None:
            session.expunge(row)
        return row


def _run_recipes(ctx: Platform, mode: str, rows: list[Host],
                 company: recipebook.Source | None) -> dict[str, dict[str, Any]]:
    directory = company.directory if company else None
    swarm = swarmhosts.join_tickets(ctx, rows)
    specs = [_spec(ctx, r, directory, swarm) for r in rows]
    roles = [role for r in rows for role in r.roles]
    out = runner.run(mode, specs, recipebook.recipe_order(roles, directory))
    for row in rows:
        entry = out.get(row.name, {})
        if entry.get("error"):
            entry["error"] = explain(row.name, entry["error"], row.fingerprint) \
                if not entry.get("connected") else entry["error"]
    if swarm:
        swarmhosts.sync_roles(mode, rows, out)
    return out


def plan(ctx: Platform, name: str = "", role: str = "") -> dict[str, dict[str, Any]]:
    """Per host, each operation with ``will_change`` (True, False or None) and its diff."""
    rows = select_hosts(ctx, name, role)
    return _run_recipes(ctx, "plan", rows, company_recipes(ctx))


def _summarise(entry: dict[str, Any]) -> dict[str, Any]:
    ops = entry.get("operations", [])
    failed = entry.get("failed") or any(o.get("status") == "failed" for o in ops)
    bad = next((o["name"] for o in ops if o.get("status") == "failed"), "")
    return {"status": "failed" if failed else "ok",
            "changed": sum(1 for o in ops if o.get("status") == "changed"),
            "unchanged": sum(1 for o in ops if o.get("status") == "ok"),
            "failed_operation": bad, "error": entry.get("error", "")}


def apply(ctx: Platform, actor: str, name: str = "", role: str = "", batch: str = "100%",
          max_failures: str = "0") -> HostApply:
    """Apply the recipes in rolling batches; stop when more hosts fail than allowed."""
    rows = select_hosts(ctx, name, role)
    groups = batches.split([r.name for r in rows], batch)
    limit = batches.failure_limit(max_failures, len(rows))
    company = company_recipes(ctx)
    by_name = {r.name: r for r in rows}
    with ctx.sessions.begin() as session:
        record = HostApply(actor=actor, target=name or (f"role:{role}" if role else "all"),
                           recipes=company.source if company else "", results={})
        session.add(record)
        session.flush()
        apply_id = record.id
    results: dict[str, Any] = {}
    failures = 0
    status = "ok"
    for number, group in enumerate(groups, 1):
        out = _run_recipes(ctx, "apply", [by_name[n] for n in group], company)
        for host_name in group:
            results[host_name] = {**_summarise(out.get(host_name, {"failed": True})),
                                  "batch": number}
            failures += results[host_name]["status"] == "failed"
        _save(ctx, apply_id, results, "running")
        if failures > limit:
            status = "stopped" if number < len(groups) else "failed"
            for rest in groups[number:]:
                for host_name in rest:
                    results[host_name] = {"status": "skipped", "batch": None, "changed": 0,
                                          "unchanged": 0, "failed_operation": "",
                                          "error": "not applied: too many hosts failed"}
            break
    else:
        status = "failed" if failures else "ok"
    return _save(ctx, apply_id, results, status)


def _save(ctx: Platform, apply_id: int, results: dict[str, Any], status: str) -> HostApply:
    with ctx.sessions.begin() as session:
        record = session.get(HostApply, apply_id)
        assert record is not None
        record.results = dict(results)
        record.status = status
        if status != "running":
            record.finished_at = utcnow()
        session.flush()
        session.expunge(record)
        return record


def applies(ctx: Platform, limit: int = 50) -> list[HostApply]:
    """The latest applies, newest first."""
    with ctx.sessions.begin() as session:
        rows = list(session.scalars(select(HostApply).order_by(HostApply.id.desc())
                                    .limit(limit)))
        session.expunge_all()
        return rows


def refresh(ctx: Platform, names: list[str] | None = None) -> list[Host]:
    """Gather facts again (all hosts, or ``names``); record reachability; send alerts."""
    rows = [get(ctx, n) for n in names] if names else list_all(ctx)
    if not rows:
        return []
    out = runner.run("facts", [_spec(ctx, r) for r in rows])
    now = utcnow()
    updated = []
    for row in rows:
        entry = out.get(row.name, {})
        reachable = bool(entry.get("connected")) and "facts" in entry
        error = "" if reachable else explain(row.name, entry.get("error", ""), row.fingerprint)
        with ctx.sessions.begin() as session:
            current = session.scalar(select(Host).where(Host.name == row.name))
            if current is None:
                continue  # removed meanwhile
            current.failed_checks = 0 if reachable else current.failed_checks + 1
            current.reachable, current.last_error = reachable, error
            if reachable:
                current.facts, current.facts_at = entry["facts"], now
            kept, due = checks.evaluate(current.name, dict(current.conditions or {}),
                                        current.facts if reachable else None, reachable,
                                        current.failed_checks, error, now)
            current.conditions = kept
            for alert in due:
                _alert(ctx, session, current, alert)
            session.flush()
            session.expunge(current)
            updated.append(current)
    return updated


def _alert(ctx: Platform, session: Session, row: Host, alert: checks.HostAlert) -> None:
    """Queue ``alert`` to the maintainers of the host's apps (on-call when it has none)."""
    channels = PAGE_CHANNELS if alert.urgent else MAIL_CHANNELS
    people = [p for app in row.apps for p in recipients.for_app(session, app)]
    if not people:
        people = recipients.parse_oncall(list(ctx.settings.oncall))
    if not people:
        log.warning("%s (nobody to tell: the host has no apps and ROOST_ONCALL is empty)",
                    alert.subject)
    for person in people:
        enqueue(session, f"host:{row.name}:{alert.kind}:{alert.since}:{person.key}", person,
                f"host-{alert.kind}", alert.subject, alert.body, channels)

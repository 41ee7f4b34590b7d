"""Add-ons attached to apps: provision, merge their config vars into releases, deprovision.

The add-on kinds themselves live in :mod:`roost.addons`; this module ties them to the store
(attachments with encrypted state), the deploy pipeline (a config change cuts a release)
and the uptime monitor (each add-on's health target gets an automatic monitor).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.addons.base import Addon, AddonEnv, Health, State
from roost.core import apps, audit
from roost.errors import Conflict, NotFound, RoostError
from roost.monitor.uptime import monitors
from roost.orchestration.platform import Platform
from roost.store.models import App
from roost.store.models.addons import AddonAttachment

log = logging.getLogger("roost.addons")


@dataclass(frozen=True)
class AttachmentView:
    """An attached add-on as `roost addons APP` shows it (no secrets)."""

    kind: str
    status: str
    config_vars: list[str]
    info: dict[str, str]
    health: str
    message: str
    created_at: str


def _env(platform: Platform) -> AddonEnv:
    return AddonEnv(settings=platform.settings, sessions=platform.sessions,
                    objects=platform.objects)


def load(platform: Platform, kind: str) -> Addon:
    """An instance of add-on ``kind`` (refused with the known kinds when unknown)."""
    return platform.addons.load(kind, _env(platform))


def _state(platform: Platform, row: AddonAttachment) -> State:
    loaded: State = json.loads(platform.cipher.decrypt(row.state_encrypted))
    return loaded


def _rows(platform: Platform, app: str) -> list[tuple[str, State]]:
    with platform.sessions.begin() as session:
        app_id = apps.get(session, app).id
        found = session.scalars(select(AddonAttachment).where(AddonAttachment.app_id == app_id)
                                .order_by(AddonAttachment.kind))
        return [(row.kind, _state(platform, row)) for row in found]


def states_of_kind(platform: Platform, kind: str) -> list[tuple[str, State]]:
    """Every app with a ``kind`` add-on, and its state (apps in name order)."""
    with platform.sessions.begin() as session:
        found = session.execute(select(App.name, AddonAttachment)
                                .join(AddonAttachment, AddonAttachment.app_id == App.id)
                                .where(AddonAttachment.kind == kind).order_by(App.name))
        return [(name, _state(platform, row)) for name, row in found]


def attached_kinds(platform: Platform, app: str) -> list[str]:
    """The kinds of add-on ``app`` has."""
    with platform.sessions.begin() as session:
        app_id = apps.get(session, app).id
        return list(session.scalars(select(AddonAttachment.kind)
                                    .where(AddonAttachment.app_id == app_id)))


def config_of_app(platform: Platform, app: str) -> dict[str, str]:
    """Every add-on's config vars for ``app``, merged (kinds in name order)."""
    merged: dict[str, str] = {}
    for kind, state in _rows(platform, app):
        merged.update(load(platform, kind).config_vars(app, state))
    return merged


def owned_keys(platform: Platform, app: str) -> dict[str, str]:
    """Each config var an add-on of ``app`` sets, with the add-on's kind."""
    with platform.sessions.begin() as session:
        app_id = apps.get(session, app).id
        rows = session.scalars(select(AddonAttachment).where(AddonAttachment.app_id == app_id))
        return {key: row.kind for row in rows for key in row.config_keys}


def attach(platform: Platform, app: str, kind: str, options: dict[str, str],
           actor: str) -> AttachmentView:
    """Provision ``kind`` for ``app`` and record it; the caller then cuts a release."""
    addon = load(platform, kind)
    checked = addon.check_options(options)
    if kind in attached_kinds(platform, app):
        raise Conflict(f"{app} already has the {kind} add-on; `roost addons {app}` shows it")
    done = addon.provision(app, checked)
    try:
        with platform.sessions.begin() as session:
            found = apps.get(session, app)
            keys = sorted(addon.config_vars(app, done.state))
            session.add(AddonAttachment(
                app_id=found.id, kind=kind, options=checked, config_keys=keys,
                state_encrypted=platform.cipher.encrypt(json.dumps(done.state)),
                message=done.message))
            audit.record(session, actor, "addons.add", f"{kind} added", app=app, kind=kind)
    except Exception:
        addon.deprovision(app, done.state)  # nothing provisioned is left without a record
        raise
    if kind == "email":  # its DNS records, in the zone of its domain when Roost manages it
        from roost.orchestration import mail_dns

        published = mail_dns.publish(platform, app)
        with platform.sessions.begin() as session:
            row = _find(session, app, kind)
            row.message = f"{row.message}; {published}" if row.message else published
    return view(platform, app, kind)


def detach(platform: Platform, app: str, kind: str, actor: str) -> str:
    """Deprovision ``kind`` from ``app`` and forget it; return the add-on's closing line."""
    with platform.sessions.begin() as session:
        row = _find(session, app, kind)
        state = _state(platform, row)
    if kind == "email":
        from roost.orchestration import mail_dns

        mail_dns.withdraw(platform, app)
    message = load(platform, kind).deprovision(app, state)
    with platform.sessions.begin() as session:
        row = _find(session, app, kind)
        session.delete(row)
        for monitor in monitors.list_monitors(session, app):
            if monitor.owner == "addon" and (monitor.headers or {}).get("X-Roost-Addon") == kind:
                monitors.remove(session, monitor.id)
        audit.record(session, actor, "addons.remove", f"{kind} removed", app=app, kind=kind)
    return message


def _find(session: Session, app: str, kind: str) -> AddonAttachment:
    app_id = apps.get(session, app).id
    row = session.scalar(select(AddonAttachment).where(AddonAttachment.app_id == app_id,
                                                       AddonAttachment.kind == kind))
    if row is None:
        raise NotFound(f"{app} has no {kind} add-on; `roost addons {app}` lists its add-ons")
    return row


def state_of(platform: Platform, app: str, kind: str) -> State:
    """The decrypted state of ``app``'s ``kind`` add-on (refused when it has none)."""
    with platform.sessions.begin() as session:
        return _state(platform, _find(session, app, kind))


def update_state(platform: Platform, app: str, kind: str, state: State) -> None:
    """Replace the stored state of ``app``'s ``kind`` add-on (e.g. after a rotation)."""
    with platform.sessions.begin() as session:
        row = _find(session, app, kind)
        row.state_encrypted = platform.cipher.encrypt(json.dumps(state))


def _health(addon: Addon, app: str, state: State) -> Health:
    try:
        return addon.health(app, state)
    except RoostError as exc:
        return Health(ok=False, detail=str(exc))


def view(platform: Platform, app: str, kind: str) -> AttachmentView:
    """One attachment with its info and current health."""
    with platform.sessions.begin() as session:
        row = _find(session, app, kind)
        state, status, keys = _state(platform, row), row.status, list(row.config_keys)
        message, created = row.message, row.created_at.isoformat()
    addon = load(platform, kind)
    return AttachmentView(kind=kind, status=status, config_vars=keys,
                          info=addon.info(app, state), health=_health(addon, app, state).describe(),
                          message=message, created_at=created)


def list_for(platform: Platform, app: str) -> list[AttachmentView]:
    """Every add-on of ``app``."""
    return [view(platform, app, kind) for kind in attached_kinds(platform, app)]


def _monitor_kind(target: str) -> tuple[str, str]:
    """The monitor kind of an add-on's target, and the target as the monitor stores it."""
    if target.startswith("tcp://"):
        return "tcp", target.removeprefix("tcp://")
    if target.startswith(("postgres://", "postgresql://")):
        return "postgres", target
    return "http", target


def ensure_monitors(platform: Platform, app: str) -> int:
    """Give each add-on with a health target an automatic uptime monitor, named for the
    add-on (the public status page shows only that name); point an existing one at the
    target the add-on gives now (its database moved). Return how many were added."""
    added = 0
    for kind, state in _rows(platform, app):
        target = load(platform, kind).monitor_url(app, state)
        if not target:
            continue
        check, stored = _monitor_kind(target)
        with platform.sessions.begin() as session:
            have = [m for m in monitors.list_monitors(session, app)
                    if m.owner == "addon" and (m.headers or {}).get("X-Roost-Addon") == kind]
            if have:
                for monitor in have:
                    monitors.retarget(session, monitor.id, check, stored)
                continue
            monitors.create(session, app, stored, owner="addon", kind=check,
                            headers={"X-Roost-Addon": kind},
                            name="Database" if check == "postgres" else "")
            added += 1
    return added

"""Releases: numbered snapshots of slug + config vars + process types, and rollback."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roost.core import apps, audit
from roost.core import config as config_vars
from roost.core.secrets import Cipher
from roost.errors import Conflict, InvalidInput, NotFound
from roost.store.models import App, Release


def parse_number(value: str | int) -> int:
    """Turn ``v3``, ``V3`` or ``3`` into 3; refuse anything else."""
    text = str(value).strip()
    digits = text[1:] if text[:1] in ("v", "V") else text
    if not digits.isdigit() or int(digits) < 1:
        raise InvalidInput(f"invalid release {value!r}: write it as v3 (or 3)")
    return int(digits)


def list_for(session: Session, app_name: str, limit: int = 50) -> list[Release]:
    """An app's releases, newest first."""
    app = apps.get(session, app_name)
    query = select(Release).where(Release.app_id == app.id).order_by(Release.number.desc())
    return list(session.scalars(query.limit(limit)))


def get(session: Session, app_name: str, number: int) -> Release:
    """One release of an app."""
    app = apps.get(session, app_name)
    found = session.scalar(select(Release).where(Release.app_id == app.id,
                                                 Release.number == number))
    if found is None:
        raise NotFound(
            f"{app_name} has no release v{number}; `roost releases {app_name}` lists them"
        )
    return found


def current(session: Session, app: App) -> Release | None:
    """The release that serves the app now, if any."""
    if app.current_release is None:
        return None
    return session.scalar(select(Release).where(Release.app_id == app.id,
                                                Release.number == app.current_release))


def config_of(release: Release, cipher: Cipher) -> dict[str, str]:
    """The config vars a release runs with."""
    loaded: dict[str, str] = json.loads(cipher.decrypt(release.config_encrypted))
    return loaded


def create(
    session: Session, cipher: Cipher, app: App, *, slug_key: str | None, slug_size: int | None,
    process_types: dict[str, str], config: dict[str, str], description: str, actor: str,
    build_id: int | None = None, meta: dict[str, Any] | None = None,
    addon_config: dict[str, str] | None = None, commit_sha: str = "",
) -> Release:
    """Add the next-numbered release (pending until the runtime makes it current).

    ``addon_config`` (the add-ons' vars) is merged over ``config``; its keys are recorded in
    ``meta["addon_keys"]`` so a rollback restores only the app's own vars.
    """
    if addon_config:
        config = {**config, **addon_config}
    meta = {**(meta or {}), "addon_keys": sorted(addon_config or {})}
    for _ in range(5):
        number = (session.scalar(select(func.max(Release.number))
                                 .where(Release.app_id == app.id)) or 0) + 1
        release = Release(app_id=app.id, number=number, slug_key=slug_key, slug_size=slug_size,
                          process_types=process_types,
                          config_encrypted=cipher.encrypt(json.dumps(config)),
                          description=description, actor=actor, build_id=build_id,
                          meta=meta, status="pending", commit_sha=commit_sha)
        try:
            with session.begin_nested():
                session.add(release)
                session.flush()
        except IntegrityError:
            continue  # another writer took this number; take the next one
        audit.record(session, actor, "releases.create", f"v{number}: {description}",
                     app=app.name, release=number)
        return release
    raise Conflict(f"could not number a new release of {app.name}; try again")


def mark(session: Session, release: Release, status: str, error: str = "") -> None:
    """Record the outcome of activating a release; a succeeded one becomes current."""
    release.status = status
    release.error = error
    if status == "succeeded":
        app = session.get(App, release.app_id)
        assert app is not None
        app.current_release = release.number


def own_config(release: Release, cipher: Cipher) -> dict[str, str]:
    """A release's config vars without those its add-ons set."""
    addon_keys = set((release.meta or {}).get("addon_keys", []))
    return {k: v for k, v in config_of(release, cipher).items() if k not in addon_keys}


def for_config_change(session: Session, cipher: Cipher, app_name: str, actor: str,
                      addon_config: dict[str, str] | None = None) -> Release | None:
    """A new release with the current slug and the app's new config, when one is current."""
    app = apps.get(session, app_name)
    base = current(session, app)
    if base is None:
        return None
    values = config_vars.as_dict(session, cipher, app_name)
    return create(session, cipher, app, slug_key=base.slug_key, slug_size=base.slug_size,
                  process_types=base.process_types, config=values,
                  description="config change", actor=actor, build_id=base.build_id,
                  meta=dict(base.meta), addon_config=addon_config, commit_sha=base.commit_sha)


def for_rollback(session: Session, cipher: Cipher, app_name: str, target: int | None,
                 actor: str, addon_config: dict[str, str] | None = None) -> Release:
    """A new release copying an earlier one's slug, process types and config vars."""
    app = apps.get(session, app_name)
    now = current(session, app)
    if target is None:
        if now is None:
            raise InvalidInput(f"{app_name} has no current release to roll back from")
        earlier = session.scalar(
            select(Release).where(Release.app_id == app.id, Release.number < now.number,
                                  Release.status == "succeeded", Release.slug_key.is_not(None))
            .order_by(Release.number.desc()).limit(1))
        if earlier is None:
            raise InvalidInput(f"{app_name} has no earlier successful release to roll back to")
        source = earlier
    else:
        source = get(session, app_name, target)
        if source.slug_key is None:
            raise InvalidInput(f"v{target} of {app_name} has no slug; pick a deployed release")
    values = own_config(source, cipher)
    config_vars.replace_all(session, cipher, app_name, values, actor)
    return create(session, cipher, app, slug_key=source.slug_key, slug_size=source.slug_size,
                  process_types=source.process_types, config=values,
                  description=f"rollback to v{source.number}", actor=actor,
                  build_id=source.build_id, meta={**source.meta, "rollback_of": source.number},
                  addon_config=addon_config, commit_sha=source.commit_sha)

"""Config vars: an app's environment, encrypted at rest."""

from __future__ import annotations

from sqlalchemy.orm import Session

from roost.core import apps, audit, validate
from roost.core.secrets import Cipher
from roost.errors import InvalidInput, NotFound
from roost.store.models import ConfigVar

MAX_VALUE_BYTES = 64 * 1024


def as_dict(session: Session, cipher: Cipher, app_name: str) -> dict[str, str]:
    """An app's config vars, decrypted, by key."""
    app = apps.get(session, app_name)
    return {var.key: cipher.decrypt(var.value_encrypted) for var in app.config_vars}


def get(session: Session, cipher: Cipher, app_name: str, key: str) -> str:
    """One config var's value."""
    values = as_dict(session, cipher, app_name)
    if key not in values:
        raise NotFound(
            f"{app_name} has no config var {key!r}; `roost config {app_name}` lists them"
        )
    return values[key]


def set_many(
    session: Session, cipher: Cipher, app_name: str, values: dict[str, str], actor: str
) -> list[str]:
    """Set several vars at once (all or none); return the keys whose value changed."""
    if not values:
        raise InvalidInput("give at least one KEY=VALUE to set")
    for key, value in values.items():
        validate.config_key(key)
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise InvalidInput(f"value of {key} is over {MAX_VALUE_BYTES // 1024} KiB")
    app = apps.get(session, app_name)
    existing = {var.key: var for var in app.config_vars}
    changed = []
    for key, value in values.items():
        var = existing.get(key)
        if var is None:
            app.config_vars.append(ConfigVar(key=key, value_encrypted=cipher.encrypt(value)))
            changed.append(key)
        elif cipher.decrypt(var.value_encrypted) != value:
            var.value_encrypted = cipher.encrypt(value)
            changed.append(key)
    if changed:
        audit.record(session, actor, "config.set", "set " + ", ".join(changed), app=app_name,
                     keys=changed)
    session.flush()
    return changed


def unset_many(session: Session, app_name: str, keys: list[str], actor: str) -> list[str]:
    """Remove vars (all or none: an unknown key refuses the whole call)."""
    if not keys:
        raise InvalidInput("give at least one KEY to unset")
    app = apps.get(session, app_name)
    existing = {var.key: var for var in app.config_vars}
    missing = [k for k in keys if k not in existing]
    if missing:
        raise NotFound(f"{app_name} has no config var {', '.join(missing)}; nothing was unset")
    for key in keys:
        app.config_vars.remove(existing[key])
    audit.record(session, actor, "config.unset", "unset " + ", ".join(keys), app=app_name,
                 keys=keys)
    session.flush()
    return keys


def replace_all(
    session: Session, cipher: Cipher, app_name: str, values: dict[str, str], actor: str
) -> None:
    """Make the app's config exactly ``values`` (used by rollback)."""
    app = apps.get(session, app_name)
    app.config_vars.clear()
    session.flush()
    for key, value in values.items():
        app.config_vars.append(ConfigVar(key=key, value_encrypted=cipher.encrypt(value)))
    audit.record(session, actor, "config.replace", "restored config vars", app=app_name)
    session.flush()

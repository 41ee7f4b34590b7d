"""Config vars of an app."""

from __future__ import annotations

from fastapi import APIRouter

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.schemas import ConfigChange, ConfigSet, ConfigUnset
from roost.core import config
from roost.orchestration.pipeline import after_config_change

router = APIRouter(tags=["config"])
MASK = "••••••••"


@router.get("/apps/{app}/config")
def get_config(
    app: str, session: SessionDep, ctx: PlatformDep, _: ActorDep, reveal: bool = False
) -> dict[str, str]:
    """An app's config vars; values are masked unless ``reveal`` is true."""
    values = config.as_dict(session, ctx.cipher, app)
    return values if reveal else {k: MASK for k in values}


@router.get("/apps/{app}/config/{key}")
def get_config_var(app: str, key: str, session: SessionDep, ctx: PlatformDep, _: ActorDep
                   ) -> dict[str, str]:
    """One config var, revealed."""
    return {key: config.get(session, ctx.cipher, app, key)}


@router.patch("/apps/{app}/config")
def set_config(
    app: str, body: ConfigSet, session: SessionDep, ctx: PlatformDep, actor: ActorDep
) -> ConfigChange:
    """Set config vars (all or none)."""
    changed = config.set_many(session, ctx.cipher, app, body.vars, actor)
    if not changed:
        return ConfigChange(changed=[])
    session.commit()
    release, error = after_config_change(ctx, app, actor)
    return ConfigChange(changed=changed, release=release, error=error)


@router.post("/apps/{app}/config/unset")
def unset_config(
    app: str, body: ConfigUnset, session: SessionDep, ctx: PlatformDep, actor: ActorDep
) -> ConfigChange:
    """Remove config vars (all or none)."""
    changed = config.unset_many(session, app, body.keys, actor)
    session.commit()
    release, error = after_config_change(ctx, app, actor)
    return ConfigChange(changed=changed, release=release, error=error)

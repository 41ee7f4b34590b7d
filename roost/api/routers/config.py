"""Config vars of an app."""

from __future__ import annotations

from fastapi import APIRouter

from roost.api.deps import ActorDep, PlatformDep, SessionDep
from roost.api.schemas import ConfigChange, ConfigSet, ConfigUnset
from roost.core import apps, config
from roost.errors import InvalidInput
from roost.orchestration import addons
from roost.orchestration.pipeline import after_config_change

router = APIRouter(tags=["config"])
MASK = "••••••••"


@router.get("/apps/{app}/config")
def get_config(
    app: str, session: SessionDep, ctx: PlatformDep, _: ActorDep, reveal: bool = False
) -> dict[str, str]:
    """An app's config vars, its add-ons' included; values are masked unless ``reveal``."""
    values = config.as_dict(session, ctx.cipher, app)
    values.update(addons.config_of_app(ctx, app))
    return values if reveal else {k: MASK for k in values}


@router.get("/apps/{app}/config/{key}")
def get_config_var(app: str, key: str, session: SessionDep, ctx: PlatformDep, _: ActorDep
                   ) -> dict[str, str]:
    """One config var, revealed (an add-on's too)."""
    apps.get(session, app)
    from_addons = addons.config_of_app(ctx, app)
    if key in from_addons:
        return {key: from_addons[key]}
    return {key: config.get(session, ctx.cipher, app, key)}


@router.patch("/apps/{app}/config")
def set_config(
    app: str, body: ConfigSet, session: SessionDep, ctx: PlatformDep, actor: ActorDep
) -> ConfigChange:
    """Set config vars (all or none); an add-on's vars are the add-on's to set."""
    owned = addons.owned_keys(ctx, app)
    clash = sorted(set(body.vars) & set(owned))
    if clash:
        raise InvalidInput(f"{clash[0]} is set by the {owned[clash[0]]} add-on; change it "
                           f"through the add-on (`roost addons {app}`), not as a config var")
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

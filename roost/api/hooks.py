"""What other subsystems do when the API changes an app (new releases, restarts)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from roost.api.context import Context


def after_config_change(
    ctx: Context, session: Session, app: str, changed: list[str], actor: str
) -> int | None:
    """Cut a new release for a config change when the app has one; return its number."""
    hook = ctx.services.get("releases")
    if hook is None:
        return None
    number: int | None = hook.on_config_change(session, app, actor)
    return number

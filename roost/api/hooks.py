"""What the API does after it changes an app: a config change cuts and activates a release."""

from __future__ import annotations

from sqlalchemy.orm import Session

from roost.context import Context
from roost.core import deploys, releases
from roost.errors import RoostError


def after_config_change(
    ctx: Context, session: Session, app: str, changed: list[str], actor: str
) -> tuple[int | None, str]:
    """Cut a release for a config change when the app has one, and activate it.

    Returns the release number (None when the app has no release yet) and an error
    message when activation failed (the previous release keeps serving then).
    """
    release = releases.for_config_change(session, ctx.cipher, app, actor)
    session.commit()
    if release is None:
        return None, ""
    try:
        deploys.activate(ctx, app, release.number, lambda _e: None)
    except RoostError as exc:
        return release.number, str(exc)
    return release.number, ""

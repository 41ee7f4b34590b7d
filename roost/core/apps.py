"""Apps: create, list, look up and destroy."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from roost.core import audit, validate
from roost.errors import Conflict, InvalidInput, NotFound
from roost.store.models import App


def get(session: Session, name: str) -> App:
    """The app called ``name``, or NotFound."""
    app = session.scalar(select(App).where(App.name == name))
    if app is None:
        raise NotFound(f"no app named {name!r}; `roost apps` lists the apps")
    return app


def list_all(session: Session, *, with_maintainers: bool = False) -> list[App]:
    """Every app, by name; ``with_maintainers`` loads every app's maintainers in one more
    query instead of one per app."""
    stmt = select(App).order_by(App.name)
    if with_maintainers:
        stmt = stmt.options(selectinload(App.maintainers))
    return list(session.scalars(stmt))


def create(session: Session, name: str, actor: str) -> App:
    """Create an app; refuse invalid or duplicate names."""
    validate.app_name(name)
    if session.scalar(select(App.id).where(App.name == name)) is not None:
        raise Conflict(f"an app named {name!r} exists already; choose another name")
    app = App(name=name)
    session.add(app)
    session.flush()
    audit.record(session, actor, "apps.create", f"created app {name}", app=name)
    return app


def destroy(session: Session, name: str, confirm: str, actor: str) -> None:
    """Delete an app and everything it owns; ``confirm`` must repeat the name."""
    app = get(session, name)
    if confirm != name:
        raise InvalidInput(
            f"destroying {name!r} deletes its config and maintainers; "
            f"repeat the name to confirm: --confirm {name}"
        )
    session.delete(app)
    audit.record(session, actor, "apps.destroy", f"destroyed app {name}", app=name)

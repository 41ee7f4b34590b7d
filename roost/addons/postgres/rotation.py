"""Credential rotation with alternating users: no query fails while the password changes.

Each app has two login roles, members of its owner role. Rotation gives the standby role
a new password, lets the caller switch the app to it (a new release, hot restart), and
only then removes the old role's password. Sessions already open under the old role keep
working until they close: PostgreSQL checks passwords only at login.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from roost.addons.base import State
from roost.addons.postgres.addon import login_role, now, server_of
from roost.addons.postgres.admin import admin, execute, ident
from roost.settings import Settings


@dataclass(frozen=True)
class Rotated:
    """The outcome of one rotation."""

    state: State
    live: str
    retired: str


def describe(state: State) -> dict[str, str]:
    """Which login role is live, which is standby, and when the last rotation was."""
    standby = "b" if state["live"] == "a" else "a"
    return {"live": login_role(state), "standby": login_role(state, standby),
            "rotated_at": state["rotated_at"], "database": state["database"],
            "standby_can_login": "yes" if state.get(f"password_{standby}") else "no"}


def _set_password(settings: Settings, state: State, which: str, password: str | None) -> None:
    with admin(server_of(settings, state)) as conn:
        execute(conn, sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            ident(login_role(state, which)),
            sql.Literal(password) if password is not None else sql.SQL("NULL")))


def rotate(settings: Settings, state: State, switch: Callable[[State], None]) -> Rotated:
    """Rotate: new password on the standby role, ``switch`` the app to it, retire the old.

    ``switch`` stores the new state and moves the app onto it; when it raises, the app
    stays on the old role (its password untouched) and the error propagates.
    """
    old = state["live"]
    new = "b" if old == "a" else "a"
    password = secrets.token_urlsafe(24)
    _set_password(settings, state, new, password)
    fresh = {**state, "live": new, f"password_{new}": password, "rotated_at": now()}
    switch(fresh)
    _set_password(settings, fresh, old, None)
    done = {**fresh, f"password_{old}": ""}
    return Rotated(state=done, live=login_role(done), retired=login_role(done, old))

"""The Unix users app, build, router and resolver processes run as when Roost is root.

``ROOST_APP_USER`` decides: ``auto`` (the default) gives every app a user of its own,
``roost-app-NAME``, and every app's builds another, ``roost-build-NAME``, both system
users from the reserved uid range 61000-61999, created with useradd on first use (names
longer than 32 characters are shortened with a hash). Any other name runs every app and
build as that one existing user; empty keeps Roost's own user. Without root nothing
changes: a process cannot switch users anyway (the sandbox still separates what it sees).

``ROOST_ROUTER_USER`` likewise names the user Caddy and the upstream resolver run as:
``auto`` creates ``roost-router`` (no fallback: that user's group may read the local object
store, so it must not be shared), empty keeps them as Roost's own user.
"""

from __future__ import annotations

import grp
import hashlib
import logging
import os
import pwd
import subprocess
import threading
from typing import NoReturn

from roost.errors import RuntimeFailure

log = logging.getLogger("roost.supervisor")
AUTO = "auto"
UID_MIN, UID_MAX = 61000, 61999
MAX_NAME = 32
ROUTER = "roost-router"
_lock = threading.Lock()


def resolve(requested: str | None) -> str | None:
    """The setting in effect: None (Roost's own user), ``auto`` or an existing user name."""
    if not requested or os.geteuid() != 0:
        return None
    if requested != AUTO:
        _entry(requested)
    return requested


def user_name(kind: str, app: str) -> str:
    """``roost-app-NAME`` / ``roost-build-NAME``, shortened with a hash past 32 characters."""
    name = f"roost-{kind}-{app}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(app.encode()).hexdigest()[:8]
    return f"roost-{kind}-{app[: MAX_NAME - len(kind) - 16]}-{digest}"


def for_app(kind: str, app: str, requested: str | None) -> tuple[str, int, int] | None:
    """(name, uid, gid) a process of ``app`` runs as (``kind``: app or build), or None to
    keep Roost's own user; the dedicated user is created on first use."""
    setting = resolve(requested)
    if setting is None:
        return None
    name = user_name(kind, app) if setting == AUTO else setting
    with _lock:
        if not _exists(name):
            _create(name)
    entry = _entry(name)
    return name, entry.pw_uid, entry.pw_gid


def resolve_router(requested: str | None) -> str | None:
    """The user Caddy and the upstream resolver run as, or None to keep Roost's own user."""
    if not requested or os.geteuid() != 0:
        return None
    if requested != AUTO:
        if not _exists(requested):
            raise RuntimeFailure(f"ROOST_ROUTER_USER {requested!r} does not exist on this host; "
                                 "create it, use `auto`, or leave it empty")
        return requested
    ensure(ROUTER, "to run the router")
    return ROUTER


def ensure(name: str, purpose: str) -> None:
    """Create the system user ``name`` (no home, no login shell) unless it exists."""
    with _lock:
        if _exists(name):
            return
        try:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
                           check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeFailure(f"could not create the system user {name} {purpose} "
                                 f"({exc})") from exc
        log.info("created the system user %s %s", name, purpose)


def ids(name: str) -> tuple[int, int]:
    """(uid, gid) of a user."""
    entry = _entry(name)
    return entry.pw_uid, entry.pw_gid


def _create(name: str) -> None:
    uid = next((u for u in range(UID_MIN, UID_MAX + 1) if not _taken(u)), None)
    if uid is None:
        raise RuntimeFailure(f"no free uid left in {UID_MIN}-{UID_MAX} for user {name}; "
                             "remove users of deleted apps (userdel roost-app-NAME)")
    try:
        subprocess.run(["useradd", "--system", "--uid", str(uid), "--user-group",
                        "--no-create-home", "--home-dir", "/app", "--shell",
                        "/usr/sbin/nologin", name], check=True, capture_output=True,
                       timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise RuntimeFailure(f"could not create the user {name} ({exc} "
                             f"{detail.decode(errors='replace').strip()}); check that "
                             "useradd works, or set ROOST_APP_USER to an existing user"
                             ) from exc
    log.info("created the system user %s (uid %d)", name, uid)


def _taken(uid: int) -> bool:
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            continue
    return False


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _entry(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return _missing(name)


def _missing(name: str) -> NoReturn:
    raise RuntimeFailure(f"ROOST_APP_USER {name!r} does not exist on this host; create it "
                         f"(useradd --system {name}), use `auto`, or leave it empty")

"""The unprivileged users apps and the router run as when Roost itself runs as root.

``ROOST_APP_USER`` names it: ``auto`` (the default) picks a dedicated system user
``roost-app`` (created with useradd on first use; ``nobody`` when that fails), any other
name is used as given (it must exist), and empty keeps apps running as Roost's own user.
Without root nothing changes: a process cannot switch users anyway.

``ROOST_ROUTER_USER`` likewise names the user Caddy and the upstream resolver run as:
``auto`` creates ``roost-router`` (no fallback: that user's group may read the local object
store, so it must not be shared), empty keeps them as Roost's own user.

A release directory is handed to that user (chowned: apps may write into their own
directory, as on Heroku) and every directory above it is made traversable for others
(``o+x`` only: nothing becomes listable or readable that was not).
"""

from __future__ import annotations

import logging
import os
import pwd
import stat
import subprocess
import threading
from pathlib import Path
from typing import NoReturn

from roost.errors import RuntimeFailure

log = logging.getLogger("roost.supervisor")
AUTO = "auto"
DEDICATED = "roost-app"
ROUTER = "roost-router"
_lock = threading.Lock()
_prepared: set[tuple[Path, int]] = set()


def resolve(requested: str | None) -> str | None:
    """The user name apps run as, or None to keep Roost's own user."""
    if not requested or os.geteuid() != 0:
        return None
    if requested != AUTO:
        _entry(requested)
        return requested
    try:
        ensure(DEDICATED, "to run apps")
    except RuntimeFailure as exc:
        log.warning("%s; apps run as nobody", exc)
        _entry("nobody")
        return "nobody"
    return DEDICATED


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


def hand_over(directory: Path, user: str) -> None:
    """Make ``user`` the owner of ``directory`` and of everything in it."""
    uid, gid = ids(user)
    os.chown(directory, uid, gid)
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def make_reachable(directory: Path, user: str) -> None:
    """Give ``directory`` to ``user`` and let it traverse every directory above."""
    uid = ids(user)[0]
    directory = directory.resolve()
    key = (directory, uid)
    with _lock:
        if key in _prepared:
            return
        if directory.stat().st_uid != uid:
            hand_over(directory, user)
        for parent in directory.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
                log.warning("made %s traversable (o+x) so %s can reach its releases",
                            parent, user)
        _prepared.add(key)


def forget_reachable() -> None:
    """Check the directories above releases again (runtime/layout.py just closed them)."""
    with _lock:
        _prepared.clear()


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

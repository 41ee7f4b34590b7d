"""Who may reach what under ``ROOST_HOME``: the one place that sets its modes.

Everything in ``ROOST_HOME`` belongs to Roost's own user and is private to it:

- ``ROOST_HOME``: 0700; 0710 with the router user's group when Caddy runs as its own user
  (traverse only, to reach ``run/`` and ``objects/``; directories above get ``o+x`` if they
  lack it). Apps never need it: the sandbox (sandbox.py) binds each release into its view.
  When Roost runs its own PostgreSQL (``postgres*/``) as root, ``o+x`` too: the postgres
  user passes through to its data, which stays its own (0700).
- ``roost.db*``, ``secret.key``, ``credentials.json``, ``roost.toml``: 0600.
- ``logs/`` (files 0600), ``router/``, ``builds/``, ``cache/``, ``uploads/``, ``apps/.work``:
  0700.
- ``objects/`` (the local object store): 2750, group = the router user's group, so Caddy can
  serve the asset files and nobody else can read a slug (files 0640, the group inherited).
- ``run/``: 0700, owned by the router user: Caddy's admin socket, storage and autosave
  (router.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("roost.runtime")
PRIVATE_FILES = ("roost.db", "roost.db-wal", "roost.db-shm", "roost.db-journal",
                 "secret.key", "credentials.json", "roost.toml")
PRIVATE_DIRS = ("logs", "router", "builds", "cache", "uploads", "apps", "apps/.work")


def secure_home(home: Path, router_gid: int | None) -> None:
    """Make ``home`` private to Roost (its router may only traverse it) before anything runs."""
    home.mkdir(parents=True, exist_ok=True)
    root = os.geteuid() == 0
    # Roost's own PostgreSQL runs as the postgres user, which must pass through home to its
    # data (postgres/, pgbackrest/; cluster.py gave home o+x): keep that, never more.
    keep = stat.S_IXOTH if root and any(home.glob("postgres*")) else 0
    if router_gid is not None and root:
        os.chown(home, -1, router_gid)
        os.chmod(home, 0o710 | keep)
        _traversable_above(home)
    else:
        os.chmod(home, 0o700 | keep)
    for name in PRIVATE_DIRS:
        path = home / name
        path.mkdir(exist_ok=True)
        if _is_real(path, stat.S_ISDIR):
            os.chmod(path, 0o700)
    for name in PRIVATE_FILES:
        path = home / name
        if _is_real(path, stat.S_ISREG):
            os.chmod(path, 0o600)
    logs = home / "logs"
    for entry in logs.iterdir():
        if _is_real(entry, stat.S_ISREG):
            os.chmod(entry, 0o600)


def share_objects(root: Path, router_gid: int | None) -> None:
    """Let the router's group read the local object store (and nobody else but Roost)."""
    root.mkdir(parents=True, exist_ok=True)
    if router_gid is None or os.geteuid() != 0:
        os.chmod(root, 0o700)
        return
    if root.stat().st_gid != router_gid or not root.stat().st_mode & stat.S_ISGID:
        log.info("letting the router's group read the object store %s", root)
        for dirpath, dirnames, filenames in os.walk(root):
            os.chown(dirpath, -1, router_gid)
            os.chmod(dirpath, 0o2750)
            for name in filenames:
                path = os.path.join(dirpath, name)
                with contextlib.suppress(FileNotFoundError):
                    if stat.S_ISREG(os.lstat(path).st_mode):
                        os.chown(path, -1, router_gid)
                        os.chmod(path, 0o640)
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    os.chmod(root, 0o2750)


def _traversable_above(home: Path) -> None:
    """Let the router's user pass through the directories above ``home`` (``o+x`` only:
    nothing becomes listable or readable): a root ``~/.roost`` sits in ``/root``, which is
    0700."""
    for parent in home.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
            log.warning("made %s traversable (o+x) so the router's user can reach %s",
                        parent, home)


def _is_real(path: Path, kind: object) -> bool:
    """Whether ``path`` exists as that kind itself (a link is never followed)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    return bool(kind(mode))  # type: ignore[operator]

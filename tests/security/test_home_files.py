"""Attack: an app reads the platform's files (roost.db, secret.key, credentials.json, logs,
other apps' slugs) once ROOST_HOME has been opened up for it to reach its release.

ROOST_HOME can be traversed but never listed or read by others; every store file is 0600,
every platform directory 0700; the object store is readable only by Roost and the router's
group (Caddy serves the assets from it)."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from tests.e2e.conftest import Server
from tests.security.hostile import REFUSED, attack, deploy_hostile, get

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="separate users need root")


def mode(path: Path) -> int:
    """The permission bits of ``path`` (not following a link)."""
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_an_app_cannot_read_the_platforms_files(server: Server, tmp_path: Path) -> None:
    deploy_hostile(server, tmp_path / "evil")
    home = server.home
    slugs = sorted(p for p in (home / "objects").rglob("*.tar.gz") if p.is_file())
    assert slugs, "the deploy stored a slug"
    secrets = [home / name for name in ("roost.db", "secret.key", "credentials.json")]
    files = [*secrets, home / "logs" / "evil.log", slugs[0], home / "router" / "caddy.log"]
    dirs = [home, home / "objects", home / "logs", home / "builds", home / "cache",
            home / "uploads", home / "router", home / "run", home / "apps" / ".work"]

    found = attack(server, {"files": [str(p) for p in files], "dirs": [str(p) for p in dirs]})

    assert found["uid"] != 0
    for path in files:
        assert found[f"read {path}"] in REFUSED, path
    for path in dirs:
        assert found[f"list {path}"] in REFUSED, path
    assert get(server, "evil.localhost").json() == {"app": "hostile"}  # still serving

    # The modes behind those refusals, as an operator would check them.
    assert mode(home) & 0o066 == 0  # traverse at most (router group; apps until sandboxed)
    for path in secrets:
        assert mode(path) == 0o600, path
    for wal in home.glob("roost.db-*"):
        assert mode(wal) == 0o600, wal
    for name in ("logs", "builds", "cache", "uploads", "router", "run", "apps/.work"):
        assert mode(home / name) == 0o700, name
    assert mode(home / "logs" / "evil.log") == 0o600
    objects = home / "objects"
    assert mode(objects) & 0o007 == 0 and grp.getgrgid(objects.stat().st_gid).gr_name == (
        "roost-router")
    assert mode(slugs[0]) == 0o640 and slugs[0].stat().st_gid == objects.stat().st_gid

"""What an app's own recipes are (read from its slug), and which hosts may run them: no VM
needed (the VM test is tests/hosts/test_app_recipes.py)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from roost.errors import Conflict, InvalidInput, RuntimeFailure
from roost.hosts import apprecipes
from roost.orchestration import app_recipes, vm_apps
from roost.orchestration.platform import Platform
from roost.store.models import App
from roost.store.models.hosts import Host, HostApply


def _slug(path: Path, members: list[tuple[str, bytes | None, str]]) -> Path:
    """A slug with (name, content, link target) members: content None and a target: a link."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data, target in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def test_recipes_come_from_the_slug_in_name_order(tmp_path: Path) -> None:
    slug = _slug(tmp_path / "s.tar.gz", [
        ("app.py", b"print('app')", ""),
        ("./recipes/default.py", b"# default", ""),
        ("recipes/00-packages.py", b"# first", ""),
        ("recipes/_helpers.py", b"# imported, not run", ""),
        ("recipes/files/app.conf", b"x=1", ""),
        ("recipes/sub/nested.py", b"# a file, not a recipe", ""),
        ("recipes/secret.py", None, "/root/ROOST_HOME/secret.key"),
    ])
    found = apprecipes.from_slug(slug)
    assert found.order == ["00-packages.py", "default.py"]
    assert sorted(found.files) == ["00-packages.py", "_helpers.py", "default.py",
                                   "files/app.conf", "sub/nested.py"]  # no link
    assert found.files["files/app.conf"] == b"x=1"
    # The digest follows every file of the folder, and nothing outside it.
    again = _slug(tmp_path / "t.tar.gz", [
        ("app.py", b"print('changed app')", ""),
        ("recipes/default.py", b"# default", ""),
        ("recipes/00-packages.py", b"# first", ""),
        ("recipes/_helpers.py", b"# imported, not run", ""),
        ("recipes/files/app.conf", b"x=1", ""),
        ("recipes/sub/nested.py", b"# a file, not a recipe", ""),
    ])
    assert apprecipes.from_slug(again).digest == found.digest
    changed = _slug(tmp_path / "u.tar.gz", [("recipes/default.py", b"# default", ""),
                                            ("recipes/files/app.conf", b"x=2", "")])
    assert apprecipes.from_slug(changed).digest not in ("", found.digest)
    none = _slug(tmp_path / "v.tar.gz", [("app.py", b"", ""), ("recipes/README", b"", "")])
    assert apprecipes.from_slug(none).digest == "" and apprecipes.from_slug(none).order == []


def test_a_recipes_folder_too_big_is_refused(tmp_path: Path) -> None:
    members = [(f"recipes/f{i}.py", b"#", "") for i in range(apprecipes.MAX_FILES + 1)]
    with pytest.raises(InvalidInput, match="keep only the recipes"):
        apprecipes.from_slug(_slug(tmp_path / "s.tar.gz", members))


def _key() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode()


def _host(ctx: Platform, name: str, key: str | None, roles: list[str] | None = None) -> None:
    with ctx.sessions.begin() as session:
        session.add(Host(name=name, user="root", address="127.0.0.1", port=22,
                         roles=roles or ["legacy"], apps=[], host_key_type="ssh-ed25519",
                         host_key="AAAA", fingerprint=f"SHA256:{name}",
                         private_key_encrypted=ctx.cipher.encrypt(key) if key else None))


def _check(ctx: Platform, app: str, host: str) -> None:
    with ctx.sessions.begin() as session:
        row = session.query(Host).filter_by(name=host).one()
        app_recipes.check_host(ctx, session, app, row)


def test_recipes_run_only_on_a_host_dedicated_to_the_app(local_platform: Any) -> None:
    ctx: Platform = local_platform
    shared = _key()
    _host(ctx, "own", _key())
    _host(ctx, "platformkey", None)
    _host(ctx, "twin1", shared)
    _host(ctx, "twin2", shared)
    _host(ctx, "node", _key(), ["docker-node"])
    with ctx.sessions.begin() as session:
        for name, host in (("old", "own"), ("neighbour", "twin1")):
            session.add(App(name=name, settings={"runtime": "vm", "vm": {"host": host,
                                                                        "port": 7000}}))
    _check(ctx, "old", "own")  # its own host, its own key: allowed
    with pytest.raises(Conflict, match="platformkey is reached with Roost's own SSH key"):
        _check(ctx, "old", "platformkey")
    with pytest.raises(Conflict, match="the SSH key of twin2 also opens twin1"):
        _check(ctx, "old", "twin2")
    with pytest.raises(Conflict, match="twin1 also carries neighbour: app recipes get root"):
        _check(ctx, "old", "twin1")
    with pytest.raises(Conflict, match="node has the role docker-node"):
        _check(ctx, "old", "node")

    # Once an app's recipes ran on a host, it is that app's alone, even after the app went.
    with ctx.sessions.begin() as session:
        session.add(HostApply(actor="ada", target="app:gone", status="ok",
                              results={"own": {"status": "ok"}}, recipes="recipes/ of gone"))
    with pytest.raises(Conflict, match="own also carries gone"):
        _check(ctx, "old", "own")
    with ctx.sessions.begin() as session, \
            pytest.raises(InvalidInput, match="own ran the own recipes of gone"):
        vm_apps.check_placement(ctx, session, "vm", "own")


def test_no_sandbox_no_app_recipes(local_platform: Any, tmp_path: Path) -> None:
    ctx: Platform = local_platform
    _host(ctx, "own", _key())
    ctx.settings = ctx.settings.model_copy(update={"sandbox": "off"})
    with pytest.raises(Conflict, match="app recipes run only in the build sandbox"):
        _check(ctx, "old", "own")
    # Roost's code inside ROOST_HOME (or holding it) would show ROOST_HOME to the recipes.
    inside = Path(apprecipes.__file__).parent.parent / "home"
    with pytest.raises(RuntimeFailure, match="install Roost outside ROOST_HOME"):
        apprecipes.code_paths(inside)
    assert Path(apprecipes.__file__).resolve().parent.parent in \
        apprecipes.code_paths(tmp_path / "home")


def test_roles_are_replaced_checked_and_audited(local_platform: Any) -> None:
    """`roost hosts roles NAME ROLE…`: the roles from now on; bad ones change nothing, and a
    host where an app's recipes ran (root there) takes no role that serves the platform."""
    from tests.conftest import admin_client

    ctx: Platform = local_platform
    _host(ctx, "web1", _key(), roles=["app"])
    _host(ctx, "own", _key())

    def roles(name: str) -> list[str]:
        with ctx.sessions.begin() as session:
            return list(session.query(Host).filter_by(name=name).one().roles)

    with admin_client(ctx) as api:
        done = api.post("/api/v1/hosts/web1/roles", json={"roles": ["app", "docker-manager"]})
        assert done.status_code == 200 and done.json()["roles"] == ["app", "docker-manager"]
        assert roles("web1") == ["app", "docker-manager"]

        bad = api.post("/api/v1/hosts/web1/roles", json={"roles": ["Docker Node"]})
        assert bad.status_code == 422 and "role 'Docker Node' is not valid" in \
            bad.json()["error"]["message"]
        missing = api.post("/api/v1/hosts/nope/roles", json={"roles": ["app"]})
        assert missing.status_code == 404
        assert roles("web1") == ["app", "docker-manager"]  # nothing changed

        with ctx.sessions.begin() as session:
            session.add(HostApply(actor="ada", target="app:old", status="ok",
                                  results={"own": {"status": "ok"}}, recipes="recipes/ of old"))
        refused = api.post("/api/v1/hosts/own/roles", json={"roles": ["docker-node"]})
        assert refused.status_code == 409, refused.text
        assert "own ran the own recipes of old" in refused.json()["error"]["message"]
        assert roles("own") == ["legacy"]
        assert api.post("/api/v1/hosts/own/roles",
                        json={"roles": ["legacy", "ruby"]}).status_code == 200

        audit = api.get("/api/v1/audit").json()
        assert any(e["action"] == "hosts.roles" and "web1: app, docker-manager" in e["summary"]
                   for e in audit), audit

"""Recipes against real sshd test hosts: set the company's recipes, plan with diffs, a
rolling apply, a second apply that changes nothing, the apply log, a stopped rollout."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from roost.errors import InvalidInput
from roost.hosts import keys
from roost.orchestration import hostflow
from tests.hosts.sshhosts import TestHost

ALL = '''
from io import StringIO
from pyinfra.operations import files
files.put(name="Company motd", src=StringIO("Property of Example Ltd\\n"), dest="/etc/motd")
'''
APP = '''
from pyinfra.operations import files
files.directory(name="App folder", path="/srv/app", mode="755")
'''


def _recipes(tmp_path: Path) -> Path:
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "all.py").write_text(ALL)
    (folder / "app.py").write_text(APP)
    return folder


def test_recipe_sources(local_platform: Any, tmp_path: Path) -> None:
    folder = _recipes(tmp_path)
    found = hostflow.set_recipes(local_platform, "t", str(folder))
    assert found.directory == folder and found.revision == ""
    for bad, why in ((str(tmp_path / "missing"), "not a folder or a git URL"),
                     (str(tmp_path), "holds no recipe")):
        with pytest.raises(InvalidInput, match=why):
            hostflow.set_recipes(local_platform, "t", bad)
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "all.py").write_text(ALL)
    for args in (["add", "all.py"], ["-c", "user.name=t", "-c", "user.email=t@e", "commit",
                                      "-qm", "recipes"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    cloned = hostflow.set_recipes(local_platform, "t", f"file://{repo}")
    assert len(cloned.revision) == 40 and (cloned.directory / "all.py").read_text() == ALL
    with pytest.raises(InvalidInput, match="git clone failed"):
        hostflow.set_recipes(local_platform, "t", f"file://{tmp_path}/nothing.git")
    row = hostflow.recorded_source(local_platform)
    assert row is not None and row.source == f"file://{repo}"  # the failures stored nothing


def _add(ctx: Any, host: TestHost, name: str, key: Path, roles: list[str]) -> None:
    hostflow.add(ctx, "t", name, f"ssh://root@{host.address}",
                 keys.scan(host.address, host.port).fingerprint, roles, key.read_text())


def test_plan_apply_apply_again(local_platform: Any, make_host: Callable[..., TestHost],
                                ssh_key: tuple[Path, str], tmp_path: Path) -> None:
    ctx = local_platform
    h1, h2 = make_host(), make_host()
    _add(ctx, h1, "h1", ssh_key[0], ["app"])
    _add(ctx, h2, "h2", ssh_key[0], [])
    hostflow.set_recipes(ctx, "t", str(_recipes(tmp_path)))

    plan = hostflow.plan(ctx)
    names1 = [o["name"] for o in plan["h1"]["operations"]]
    names2 = [o["name"] for o in plan["h2"]["operations"]]
    assert "Company motd" in names1 and "App folder" in names1
    assert "Company motd" in names2 and "App folder" not in names2
    ops = {o["name"]: o for o in plan["h1"]["operations"]}
    firewall = ops["Firewall: SSH and the router's ports only"]
    assert firewall["will_change"] is True
    assert any("tcp dport { 22, 80, 443, 8080 } accept" in line for line in firewall["diff"])
    assert ops["Load the firewall rules"]["will_change"] is None  # depends on the file
    assert ops["Non-root user deploy"]["will_change"] is True

    first = hostflow.apply(ctx, "ada", batch="50%", max_failures="0")
    assert first.status == "ok", first.results
    assert {n: (r["status"], r["batch"]) for n, r in first.results.items()} == {
        "h1": ("ok", 1), "h2": ("ok", 2)}
    assert all(r["changed"] > 0 for r in first.results.values())
    assert "Property of Example Ltd" in h2.run("cat /etc/motd")
    assert "deploy" in h1.run("id -un deploy")
    assert "tcp dport { 22, 80, 443, 8080 } accept" in h1.run("nft list table inet roost")
    assert h1.run("test -d /srv/app && echo yes").strip() == "yes"
    assert h2.run("test -d /srv/app && echo yes || echo no").strip() == "no"

    second = hostflow.apply(ctx, "ada")
    assert second.status == "ok"
    assert {n: r["changed"] for n, r in second.results.items()} == {"h1": 0, "h2": 0}
    again = hostflow.plan(ctx, role="app")
    assert list(again) == ["h1"]
    assert not [o for o in again["h1"]["operations"] if o["will_change"] is True]

    h1.stop_sshd()
    stopped = hostflow.apply(ctx, "bob", batch="1", max_failures="0")
    assert stopped.status == "stopped"
    assert stopped.results["h1"]["status"] == "failed"
    assert "cannot reach h1 over SSH" in stopped.results["h1"]["error"]
    assert stopped.results["h2"]["status"] == "skipped"

    log = hostflow.applies(ctx)
    assert [(a.actor, a.status) for a in log] == [("bob", "stopped"), ("ada", "ok"),
                                                  ("ada", "ok")]
    assert log[-1].finished_at is not None and log[-1].target == "all"
    with pytest.raises(InvalidInput, match="no host has role 'db'"):
        hostflow.plan(ctx, role="db")

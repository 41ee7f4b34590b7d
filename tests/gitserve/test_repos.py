"""The apps' repositories: private, named by id, and run only Roost's hook."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from roost.gitserve import repos


def test_repository_is_private_bare_and_named_by_the_app_id(tmp_path: Path) -> None:
    repo = repos.ensure_repo(tmp_path, 7)
    assert repo == tmp_path / "git" / "repos" / "7.git" and (repo / "HEAD").is_file()
    assert stat.S_IMODE((tmp_path / "git").stat().st_mode) == 0o700
    assert not (repo / "hooks").exists()  # no template: no sample hooks
    assert (repo / "HEAD").read_text().strip() == "ref: refs/heads/main"
    assert repos.ensure_repo(tmp_path, 7) == repo  # idempotent
    repos.remove_repo(tmp_path, 7)
    assert not repo.exists()


def test_git_runs_roosts_hook_whatever_the_repository_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    repo = repos.ensure_repo(tmp_path, 1)
    planted = repo / "hooks" / "pre-receive"  # as if something had written one there
    planted.parent.mkdir(exist_ok=True)
    planted.write_text("#!/bin/sh\ntouch /tmp/planted\n")
    subprocess.run(["git", "--git-dir", str(repo), "config", "core.hooksPath", str(repo / "hooks")],
                   check=True)
    env = repos.git_env(tmp_path)
    hooks = subprocess.run(["git", "--git-dir", str(repo), "config", "core.hooksPath"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert hooks == str(tmp_path / "git" / "hooks")
    script = (Path(hooks) / "pre-receive").read_text()
    assert f"exec {sys.executable} -I " in script and script.endswith("hook.py\n")
    assert "do-not-leak" not in env.values()  # git and the hook see none of Roost's secrets


def test_the_hook_refuses_a_push_that_did_not_come_through_roost(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-I", str(repos.HOOK_SCRIPT)], input="a b c\n",
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and "only through Roost" in done.stdout


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data.git",
                                 "http://metadata.google.internal/repo.git",
                                 "http://[fe80::1]/repo.git"])
def test_a_hook_cannot_make_roost_fetch_from_metadata_addresses(platform: Any,
                                                                 url: str) -> None:
    from roost.errors import RoostError
    from roost.gitserve import forgehooks
    from roost.gitserve.forge import PushEvent

    event = PushEvent(branch="main", sha="a" * 40, clone_url=url)
    with pytest.raises(RoostError, match="refused to fetch .*(link-local|cloud metadata)"):
        forgehooks.fetch(platform, 1, event)
    assert not (platform.settings.home / "git" / "repos" / "1.git").exists()

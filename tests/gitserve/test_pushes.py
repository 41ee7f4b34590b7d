"""Which ref a push may update, and the hook's object directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.errors import RoostError
from roost.gitserve.pushes import ZERO, Target, choose_target, quarantine_env

OLD, NEW = "1" * 40, "2" * 40


@pytest.mark.parametrize("branch", ["main", "master"])
def test_main_or_master_deploys(branch: str) -> None:
    assert choose_target([[OLD, NEW, f"refs/heads/{branch}"]]) == Target(NEW, branch)


def test_another_branch_is_refused_with_the_command_that_deploys_it() -> None:
    refused = choose_target([[ZERO, NEW, "refs/heads/feature/login"]])
    assert isinstance(refused, str)
    assert "git push roost feature/login:main" in refused


def test_tags_deletions_and_two_branches_are_refused() -> None:
    assert "not pushed" in str(choose_target([[ZERO, NEW, "refs/tags/v1"]]))
    assert "deleting main" in str(choose_target([[OLD, ZERO, "refs/heads/main"]]))
    both = choose_target([[ZERO, NEW, "refs/heads/main"], [ZERO, OLD, "refs/heads/master"]])
    assert "one branch at a time" in str(both)
    assert "cannot read" in str(choose_target([["junk"]]))


def test_quarantine_paths_must_stay_inside_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "1.git"
    (repo / "objects" / "incoming-x").mkdir(parents=True)
    env = quarantine_env(repo, {"GIT_OBJECT_DIRECTORY": str(repo / "objects/incoming-x"),
                                "GIT_ALTERNATE_OBJECT_DIRECTORIES": "objects"})
    assert env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] == str((repo / "objects").resolve())
    with pytest.raises(RoostError, match="outside the repository"):
        quarantine_env(repo, {"GIT_OBJECT_DIRECTORY": str(tmp_path / "2.git/objects")})
    with pytest.raises(RoostError, match="outside"):
        quarantine_env(repo, {"GIT_ALTERNATE_OBJECT_DIRECTORIES": f"objects:{tmp_path}"})

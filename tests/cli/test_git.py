"""`roost git credential`: git's credential helper answers for Roost's URL only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def helper(env: dict[str, str], request: str, action: str = "get",
           command: tuple[str, ...] = ("roost.cli.gitcred",)) -> str:
    return subprocess.run([sys.executable, "-m", *command, action], input=request, env=env,
                          capture_output=True, text=True, check=True, timeout=60).stdout


def test_helper_gives_the_token_for_roosts_url_only(offline_env: dict[str, str]) -> None:
    url = offline_env["ROOST_API_URL"]  # http://127.0.0.1:PORT
    host = url.removeprefix("http://")
    answer = helper(offline_env, f"protocol=http\nhost={host}\npath=git/web.git\n\n")
    assert answer == "username=roost\npassword=t\n"
    assert helper(offline_env, "protocol=https\nhost=github.com\n\n") == ""
    assert helper(offline_env, f"protocol=https\nhost={host}\n\n") == ""  # not the same URL
    assert helper(offline_env, f"protocol=http\nhost={host}\n\n", "erase") == ""
    same = helper(offline_env, f"protocol=http\nhost={host}\n\n", "get",
                  ("roost.cli.main", "git", "credential"))  # `roost git credential get`
    assert same == answer


def test_remote_outside_a_repository_says_how_to_fix(offline_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "roost.cli.main", "git", "remote", "web"],
                         cwd=tmp_path, env=offline_env | {"GIT_CEILING_DIRECTORIES": "/"},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.startswith("error: not in a git repository: run this in your app's")

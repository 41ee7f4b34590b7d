"""Where the apps' repositories live, and the environment every git command of Roost gets."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from roost.errors import RoostError

HOOK_SCRIPT = Path(__file__).with_name("hook.py")
MAX_PUSH_BYTES = 1024 * 1024 * 1024  # receive.maxInputSize: a push's pack
DEPLOY_BRANCHES = ("main", "master")


class GitUnavailable(RoostError):
    """git is not installed on the server."""

    code = "git_unavailable"
    status = 503


def root(home: Path) -> Path:
    """``ROOST_HOME/git``: repositories and Roost's hooks, private to Roost (0700)."""
    path = home / "git"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def project_root(home: Path) -> Path:
    """The directory holding one bare repository per app (``GIT_PROJECT_ROOT``)."""
    path = root(home) / "repos"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def repo_name(app_id: int) -> str:
    """The repository directory of an app: named by its id, never by user input."""
    return f"{int(app_id)}.git"


def hooks_dir(home: Path) -> Path:
    """Roost's hooks directory, (re)written on every use so it always runs this Roost's code.

    git runs only these hooks: ``core.hooksPath`` points here in every git command Roost
    starts, whatever a repository's own config says.
    """
    path = root(home) / "hooks"
    path.mkdir(mode=0o700, exist_ok=True)
    hook = path / "pre-receive"
    text = ("#!/bin/sh\n# Roost's pre-receive hook: deploys the pushed commit (roost/gitserve)\n"
            f"exec {shlex.quote(sys.executable)} -I {shlex.quote(str(HOOK_SCRIPT))}\n")
    if not hook.is_file() or hook.read_text() != text:
        tmp = path / "pre-receive.tmp"
        tmp.write_text(text)
        tmp.chmod(0o700)
        tmp.replace(hook)
    return path


def git_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for git: none of Roost's secrets, no user or system config,
    Roost's hooks only, objects checked on receipt, bounded push size."""
    config = {
        "core.hooksPath": str(hooks_dir(home)),
        "receive.fsckObjects": "true",
        "receive.maxInputSize": str(MAX_PUSH_BYTES),
        "receive.denyDeletes": "true",
        "uploadpack.allowFilter": "false",
        "protocol.allow": "never",
        "protocol.http.allow": "always",
        "protocol.https.allow": "always",
        "credential.helper": "",
    }
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "HOME": str(root(home)), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": str(len(config))}
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    env.update(extra or {})
    return env


def ensure_repo(home: Path, app_id: int) -> Path:
    """The app's bare repository, created (empty, no template, HEAD on main) when missing."""
    path = project_root(home) / repo_name(app_id)
    if (path / "HEAD").is_file():
        return path
    try:
        subprocess.run(["git", "init", "--quiet", "--bare", "--template=",
                        "--initial-branch=main", str(path)],
                       env=git_env(home), check=True, capture_output=True, timeout=30)
    except FileNotFoundError as exc:
        raise GitUnavailable("git is not installed on the Roost server: install it "
                             "(apt-get install git) and push again") from exc
    except subprocess.CalledProcessError as exc:
        raise RoostError(f"cannot create the repository: {exc.stderr.decode(errors='replace')}"
                         ) from exc
    return path


def remove_repo(home: Path, app_id: int) -> None:
    """Delete an app's repository (when the app is destroyed)."""
    import shutil

    shutil.rmtree(project_root(home) / repo_name(app_id), ignore_errors=True)

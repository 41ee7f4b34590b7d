"""`roost git`: the app's git remote, and git's credential helper for Roost."""

from __future__ import annotations

import shlex
import subprocess
import sys

import typer

from roost.cli.client import Client, CliError
from roost.cli.output import ok

app = typer.Typer(help="Deploy with `git push`: the app's git remote and git's credential "
                  "helper.", no_args_is_help=True)


def remote_url(api_url: str, app_name: str) -> str:
    """The git remote of an app on the Roost at ``api_url``."""
    return f"{api_url.rstrip('/')}/git/{app_name}.git"


def helper_command() -> str:
    """The credential helper git runs (`roost git credential`, without the CLI's start-up),
    by the interpreter that runs this CLI now."""
    return f"!{shlex.quote(sys.executable)} -m roost.cli.gitcred"


def _git(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=30,
                              cwd=cwd)
    except FileNotFoundError:
        raise CliError("git is not installed: install it (apt-get install git), then "
                       "try again") from None


def install_helper(api_url: str, scope: str = "--global") -> bool:
    """Make git ask Roost's helper (and only it) for the token of ``api_url``.

    The empty value first clears helpers configured before it (a `store` helper would
    otherwise write the token to ~/.git-credentials). Returns False when git is missing.
    """
    key = f"credential.{api_url.rstrip('/')}.helper"
    try:
        _git("config", scope, "--unset-all", key)
        for value in ("", helper_command()):
            done = _git("config", scope, "--add", key, value)
            if done.returncode != 0:
                raise CliError(f"cannot configure git's credential helper: "
                               f"{done.stderr.strip()}")
    except CliError:
        if scope == "--global":
            return False
        raise
    return True


@app.command("remote")
def remote(app_name: str = typer.Argument(..., metavar="APP"),
           name: str = typer.Option("roost", "--name", help="the remote's name")) -> None:
    """Add the app's git remote to the current repository (as `roost`)."""
    inside = _git("rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise CliError("not in a git repository: run this in your app's repository "
                       "(`git init` makes one)")
    client = Client()
    client.request("GET", f"/apps/{app_name}")  # fail fast on a wrong app name
    url = remote_url(client.creds.url, app_name)
    exists = _git("remote", "get-url", name).returncode == 0
    done = _git("remote", "set-url" if exists else "add", name, url)
    if done.returncode != 0:
        raise CliError(f"cannot set the git remote {name}: {done.stderr.strip()}")
    configured = _git("config", "--get-urlmatch", "credential.helper", url).stdout
    if helper_command() not in configured:
        install_helper(client.creds.url, "--local")
    ok(f"Git remote {name} is {url}; deploy with `git push {name} main`")


@app.command("credential", hidden=True)
def credential(action: str = typer.Argument(..., metavar="get|store|erase")) -> None:
    """git's credential helper: answers `get` with the API token for Roost's URL."""
    from roost.cli.gitcred import answer

    sys.stdout.write(answer(action, sys.stdin.read()))

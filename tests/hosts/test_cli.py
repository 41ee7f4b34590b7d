"""`roost hosts` and `roost recipes` as a user types them, against a real control plane
(uvicorn in a thread) and a real sshd test host."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from roost import credentials
from roost.api.app import create_app
from tests.conftest import free_port, wait_for
from tests.hosts.sshhosts import TestHost


@pytest.fixture
def cli_env(local_platform: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a `roost` command talking to a live control plane."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(local_platform), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20)
    creds = credentials.read(local_platform.settings.home)
    assert creds is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_HOME": str(tmp_path / "cli"), "ROOST_API_URL": f"http://127.0.0.1:{port}",
                "ROOST_TOKEN": creds.token, "NO_COLOR": "1"})
    yield env
    server.should_exit = True
    thread.join(timeout=10)


def roost(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `roost ARGS` (stdin not a terminal, as in a script)."""
    return subprocess.run([sys.executable, "-m", "roost.cli.main", *args], env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=600)


def test_hosts_from_the_command_line(cli_env: dict[str, str],
                                     make_host: Callable[..., TestHost],
                                     ssh_key: tuple[Path, str]) -> None:
    host = make_host()
    url = f"ssh://root@{host.address}"
    key = str(ssh_key[0])

    unread = roost(cli_env, "hosts", "add", "web1", url, "--key", "/nonexistent/id")
    assert unread.returncode == 1
    assert unread.stderr == ("error: cannot read --key /nonexistent/id: No such file or "
                             "directory; give a readable private key file, e.g. --key "
                             "~/.ssh/id_ed25519\n")
    unconfirmed = roost(cli_env, "hosts", "add", "web1", url, "--key", key)
    assert unconfirmed.returncode == 1
    assert f"The authenticity of host 'web1 ({host.address})' can't be established." \
        in unconfirmed.stdout
    assert "ED25519 key fingerprint is SHA256:" in unconfirmed.stdout
    [line] = unconfirmed.stderr.splitlines()
    assert line.startswith("error: not pinning the host key of web1 without confirmation")
    assert "--host-key SHA256:" in line
    bad_url = roost(cli_env, "hosts", "add", "web1", "root@host", "--key", key, "--yes")
    assert bad_url.returncode == 1 and bad_url.stderr.startswith(
        "error: 'root@host' is not an SSH URL: write ssh://USER@HOST[:PORT]")
    assert "no hosts yet" in roost(cli_env, "hosts").stdout

    added = roost(cli_env, "hosts", "add", "web1", url, "--key", key, "--yes", "--role", "app")
    assert added.returncode == 0, added.stderr
    assert "Pinned (--yes)." in added.stdout and "Added web1 (ssh://root@" in added.stdout
    listing = roost(cli_env, "hosts").stdout
    assert "web1" in listing and "app" in listing and "up" in listing
    info = roost(cli_env, "hosts", "info", "web1").stdout
    assert "host key:   ED25519 SHA256:" in info and "disk:       / " in info

    plan = roost(cli_env, "hosts", "plan", "--role", "app")
    assert plan.returncode == 0, plan.stderr
    assert "web1: " in plan.stdout and " to change, 1 might change" in plan.stdout
    assert "  + Firewall: SSH and the router's ports only" in plan.stdout
    assert "  ~ Load the firewall rules" in plan.stdout
    assert "      Will modify /etc/nftables.conf" in plan.stdout  # the diff
    assert [line for line in plan.stdout.splitlines() if line.startswith("      + ")
            and line.endswith("tcp dport { 22, 80, 443, 8080 } accept")]
    applied = roost(cli_env, "hosts", "apply", "web1", "--batch", "25%")
    assert applied.returncode == 0, applied.stderr
    assert "web1: ok, " in applied.stdout and "Apply 1: ok" in applied.stdout
    log = roost(cli_env, "hosts", "log").stdout
    assert "admin" in log and "web1:ok" in log

    host.rekey()  # rebuilt: the key changed
    changed = roost(cli_env, "hosts", "info", "web1", "--refresh").stdout
    assert "host key of web1 changed" in changed and "`roost hosts rekey web1`" in changed
    unconfirmed = roost(cli_env, "hosts", "rekey", "web1")
    assert unconfirmed.returncode == 1
    assert f"The host key of 'web1 ({host.address})' has changed." in unconfirmed.stdout
    assert "--host-key SHA256:" in unconfirmed.stderr
    rekeyed = roost(cli_env, "hosts", "rekey", "web1", "--yes")
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert "Pinned the new host key of web1 (ED25519 SHA256:" in rekeyed.stdout
    assert roost(cli_env, "hosts", "plan", "web1").returncode == 0

    for args, message in (
            (("hosts", "info", "nope"), "error: no host named 'nope': `roost hosts` lists them"),
            (("hosts", "plan", "--role", "db"), "error: no host has role 'db'"),
            (("hosts", "apply", "--batch", "x"), "error: --batch 'x' is not a number"),
            (("recipes", "set", "/nonexistent"), "error: /nonexistent is not a folder or a "
                                                 "git URL")):
        refused = roost(cli_env, *args)
        assert refused.returncode == 1 and refused.stderr.startswith(message), refused.stderr
        assert len(refused.stderr.splitlines()) == 1
    assert "Only Roost's recipes" in roost(cli_env, "recipes").stdout
    assert roost(cli_env, "hosts", "remove", "web1").returncode == 0
    assert "no hosts yet" in roost(cli_env, "hosts").stdout


def test_a_private_key_never_travels_over_plain_http(tmp_path: Path,
                                                     ssh_key: tuple[Path, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_HOME": str(tmp_path), "ROOST_API_URL": "http://roost.example.com:7700",
                "ROOST_TOKEN": "t", "NO_COLOR": "1"})
    refused = roost(env, "hosts", "add", "web1", "ssh://root@10.0.0.5", "--key",
                    str(ssh_key[0]), "--yes")
    assert refused.returncode == 1
    assert refused.stderr == ("error: not sending a private key to http://roost.example.com:7700 "
                              "over plain HTTP: use the server's https:// URL (`roost login`), "
                              "or add the host without --key (Roost then logs in with its own "
                              "key)\n")

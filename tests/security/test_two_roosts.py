"""Attack: a second Roost on the host takes over the first one's router.

Each Roost has its own admin socket under its own ROOST_HOME, and a start that finds the
router (or control plane) port taken stops with a message naming the setting to change,
instead of sharing the port through SO_REUSEPORT and taking part of the traffic."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.e2e.conftest import ROOST, Server, home_for, start_server, stop_server
from tests.e2e.test_foundation import ok
from tests.security.hostile import get


def deploy_page(server: Server, src: Path, text: str) -> None:
    """Deploy the app ``web`` serving ``text`` at /."""
    ok(server, "apps", "create", "web")
    src.mkdir(parents=True)
    (src / "Procfile").write_text("web: python3 -m http.server $PORT --bind 127.0.0.1\n")
    (src / "index.html").write_text(text)
    deployed = server.roost("deploy", "web", str(src), timeout=300)
    assert deployed.returncode == 0, deployed.stderr


def answers(server: Server, count: int = 40) -> set[str]:
    """What ``count`` requests to its app ``web`` got back through its router."""
    with httpx.Client(timeout=10) as client:
        base = "http://" + server.env["ROOST_ROUTER_LISTEN"]
        return {client.get(base + "/", headers={"Host": "web.localhost"}).text
                for _ in range(count)}


def refused_start(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `roost up` expecting it to refuse to start."""
    home = home_for(tmp_path / "refused")
    env = {**env, "ROOST_HOME": str(home)}
    try:
        return subprocess.run([ROOST, "up"], env=env, capture_output=True, text=True,
                              timeout=120)
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


def test_two_roosts_side_by_side_and_a_third_on_a_taken_port(tmp_path: Path) -> None:
    servers = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            servers.append(start_server(tmp_path / name))
        first, second = servers
        deploy_page(first, tmp_path / "a" / "src", "I am the first Roost\n")
        deploy_page(second, tmp_path / "b" / "src", "I am the second Roost\n")
        assert answers(first) == {"I am the first Roost\n"}
        assert answers(second) == {"I am the second Roost\n"}
        assert (first.home / "run" / "caddy-admin.sock").is_socket()
        assert (second.home / "run" / "caddy-admin.sock").is_socket()

        base = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
        taken = first.env["ROOST_ROUTER_LISTEN"]
        result = refused_start(tmp_path, {**base, "ROOST_LISTEN": f"127.0.0.1:{free_port()}",
                                          "ROOST_ROUTER_LISTEN": taken,
                                          "ROOST_ADVISORY_SOURCES": ""})
        last = result.stderr.strip().splitlines()[-1]
        assert result.returncode != 0
        assert f"port {taken.rpartition(':')[2]}" in last and "ROOST_ROUTER_LISTEN" in last

        result = refused_start(tmp_path, {**base, "ROOST_LISTEN": first.env["ROOST_LISTEN"],
                                          "ROOST_ROUTER_LISTEN": f"127.0.0.1:{free_port()}",
                                          "ROOST_ADVISORY_SOURCES": ""})
        assert result.returncode != 0
        assert result.stderr.strip().splitlines() == [
            f"error: port {first.env['ROOST_LISTEN'].rpartition(':')[2]} "
            f"({first.env['ROOST_LISTEN']}) is already in use, perhaps by another Roost on "
            "this host: set ROOST_LISTEN to a free address"]

        # Every request still reaches the Roost it was sent to.
        assert answers(first) == {"I am the first Roost\n"}
        assert answers(second) == {"I am the second Roost\n"}
        assert get(first, "web.localhost").status_code == 200
    finally:
        for srv in servers:
            stop_server(srv)
        for name in ("a", "b"):
            shutil.rmtree(home_for(tmp_path / name).parent, ignore_errors=True)

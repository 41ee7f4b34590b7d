"""A hostile app and its hostile buildpack on a real `roost up` (run as root), beside a
well-behaved app that must keep serving while every attack fails."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.runtime import sandbox
from tests.conftest import wait_for
from tests.e2e.conftest import Server, home_for, start_server, stop_server
from tests.e2e.test_foundation import ok

HOSTILE = Path(__file__).parent / "hostile_sandbox"
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or sandbox.bwrap_path() is None,
                                reason="the attacks are those of an app on a root-run Roost")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`roost up` as root, with its defaults: sandboxes, users and limits on."""
    shutil.rmtree(home_for(tmp_path).parent, ignore_errors=True)
    srv = start_server(tmp_path)
    yield srv
    stop_server(srv)
    shutil.rmtree(home_for(tmp_path).parent, ignore_errors=True)


def get(server: Server, app: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://{server.env['ROOST_ROUTER_LISTEN']}{path}",
                     headers={"Host": f"{app}.localhost"}, timeout=30)


class Hammer:
    """Requests to the well-behaved app, in a thread, counting every failure."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.failures: list[str] = []
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                page = get(self.server, "victim")
                if page.status_code != 200 or "victim ok" not in page.text:
                    self.failures.append(f"{page.status_code} {page.text[:80]}")
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
            self.sent += 1
            self.stop.wait(0.05)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def release_dir(server: Server, app: str) -> Path:
    [found] = sorted((server.home / "apps" / app).glob("v*"))
    return found


def test_a_hostile_app_and_buildpack_get_nothing_and_the_neighbour_keeps_serving(
        server: Server, tmp_path: Path) -> None:
    secret = f"victim-secret-{os.getpid()}"
    victim_src = tmp_path / "victim"
    victim_src.mkdir()
    (victim_src / "Procfile").write_text(
        "web: exec python3 -m http.server $PORT --bind 127.0.0.1\n")
    (victim_src / "index.html").write_text("victim ok\n")
    ok(server, "apps", "create", "victim")
    ok(server, "config", "set", "victim", f"SECRET={secret}")
    assert server.roost("deploy", "victim", str(victim_src), timeout=300).returncode == 0
    victim_dir = release_dir(server, "victim")
    # The neighbour is watched from here on: creating and deploying another app (a new host
    # name) reloads nothing in the router, so no request to it may fail.
    hammer = Hammer(server)

    link_target = tmp_path / "planted-by-the-app"
    ok(server, "apps", "create", "hostile")
    ok(server, "buildpacks", "set", "hostile", str(HOSTILE / "buildpack"))
    ok(server, "config", "set", "hostile", f"TARGET_HOME={server.home}",
       f"VICTIM_DIR={victim_dir}", f"LINK_TARGET={link_target}",
       f"OWN_DIR={server.home / 'apps' / 'hostile' / 'v1'}")
    ok(server, "limits", "set", "hostile", "web", "memory=96M", "pids=48")
    assert "96M" in ok(server, "limits", "hostile")
    try:
        deployed = server.roost("deploy", "hostile", str(HOSTILE / "app"), timeout=300)
        assert deployed.returncode == 0, deployed.stderr
        own_dir = release_dir(server, "hostile")
        assert own_dir.name == "v1" and own_dir.stat().st_uid == 0

        report = get(server, "hostile", "/attack").json()
        # The build ran as its own user and reached none of the platform's files.
        assert report["build"] == ["build ran as roost-build-hostile"]
        # At run time: none of ROOST_HOME, no other app, and its own release untouched.
        for name in ("secret.key", "credentials.json", "roost.db", "logs", "objects",
                     "victim_release", "own_release_on_host"):
            assert report[name].startswith("refused"), (name, report[name])
        assert report["pids"] == sorted(report["pids"]) and max(report["pids"]) < 20
        assert not any(secret in env for env in report["environs"])
        assert report["uid"] != 0
        # The planted link was replaced, never followed, by the platform.
        assert not report["roost_is_link"] and not report["manifest_in_public"]
        assert report["own_app_dir"] == "GOT"  # writable, but only in its own overlay
        assert get(server, "hostile", "/pwned").text == "True"
        assert not (own_dir / "pwned.txt").exists() and not (own_dir / "pwned").exists()
        assert not list(victim_dir.glob("pwned*"))

        # Over its memory: stopped, restarted, and the figure is in its log.
        get(server, "hostile", "/eat")

        def restarted() -> bool:
            return "went over its memory limit of 96M" in ok(
                server, "logs", "hostile", "--source", "roost", "-n", "200")

        wait_for(restarted, timeout=90, interval=1)

        def serving_again() -> bool:
            try:
                return get(server, "hostile", "/pwned").text == "False"
            except httpx.HTTPError:
                return False

        wait_for(serving_again, timeout=90, interval=1)  # its writes went with it
        assert not link_target.exists()

        # A fork bomb stops at the pids limit; the platform and the neighbour keep serving.
        assert get(server, "hostile", "/bomb").status_code == 200
        for _ in range(10):
            assert get(server, "victim").status_code == 200
            assert json.loads(ok(server, "ps", "victim", "--json"))[0]["state"] == "up"
        assert hammer.sent > 20
    finally:
        hammer.finish()
    assert hammer.sent > 20 and hammer.failures == []

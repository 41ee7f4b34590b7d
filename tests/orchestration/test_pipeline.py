"""The deploy pipeline and the add-on interface, through the real API on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roost import credentials
from roost.build.archive import pack_source
from roost.core import config as config_vars
from roost.core import maintainers, releases
from roost.errors import Conflict
from roost.orchestration import alerts, deploys, pipeline
from roost.orchestration.platform import Platform, ensure_local_credentials, open_platform
from roost.settings import Settings
from roost.store.models import Build
from tests.conftest import admin_client, wait_for
from tests.notify.receivers import Receiver
from tests.orchestration.echo_addon import KIND


@pytest.fixture
def plat(db_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A platform with the test add-on kind registered (no runtime: nothing is served)."""
    settings = Settings(home=tmp_path / "home", database_url=db_url, addon_kinds=[KIND])
    platform = open_platform(settings)
    ensure_local_credentials(platform)
    yield platform
    platform.engine.dispose()


@pytest.fixture
def client(plat: Platform) -> Iterator[TestClient]:
    with admin_client(plat) as c:
        yield c


def deployed(plat: Platform, client: TestClient, tmp_path: Path, app: str = "shop") -> int:
    """Create ``app`` and deploy a one-line Procfile app to it; return its release number."""
    assert client.post("/api/v1/apps", json={"name": app}).status_code in (200, 201)
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "Procfile").write_text("web: python3 -m http.server $PORT\n")
    archive = pack_source(src, tmp_path / "source.tar.gz")
    events: list[dict[str, Any]] = []
    release = pipeline.deploy_source(plat, app, archive, "t", events.append)
    assert any(e.get("step") == "build" for e in events)
    return release.number


def config_of(plat: Platform, app: str, number: int) -> dict[str, str]:
    with plat.sessions.begin() as s:
        return releases.config_of(releases.get(s, app, number), plat.cipher)


def test_addon_config_rides_every_release(plat: Platform, client: TestClient,
                                          tmp_path: Path) -> None:
    v1 = deployed(plat, client, tmp_path)
    added = client.post("/api/v1/apps/shop/addons", json={"kind": "echo",
                                                          "options": {"size": "3"}})
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["release"] == v1 + 1 and body["config_vars"] == ["ECHO_DIR", "ECHO_TOKEN"]
    assert body["health"] == "ok" and body["info"]["size"] == "3"
    token = config_of(plat, "shop", v1 + 1)["ECHO_TOKEN"]
    assert (Path(config_of(plat, "shop", v1 + 1)["ECHO_DIR"]) / "token").read_text() == token

    changed = client.patch("/api/v1/apps/shop/config", json={"vars": {"GREETING": "hi"}})
    assert changed.json()["release"] == v1 + 2
    assert config_of(plat, "shop", v1 + 2)["ECHO_TOKEN"] == token
    back = client.post("/api/v1/apps/shop/rollback", json={"release": f"v{v1}"})
    assert back.status_code == 200, back.text
    rolled = config_of(plat, "shop", v1 + 3)
    assert rolled["ECHO_TOKEN"] == token and "GREETING" not in rolled
    with plat.sessions.begin() as s:  # the add-on's vars never leak into the app's own
        assert "ECHO_TOKEN" not in config_vars.as_dict(s, plat.cipher, "shop")

    masked = client.get("/api/v1/apps/shop/config").json()
    assert {"ECHO_DIR", "ECHO_TOKEN"} <= set(masked) and set(masked.values()) == {"••••••••"}
    assert client.get("/api/v1/apps/shop/config/ECHO_TOKEN").json() == {"ECHO_TOKEN": token}
    clash = client.patch("/api/v1/apps/shop/config", json={"vars": {"ECHO_TOKEN": "mine"}})
    assert clash.status_code == 422 and "set by the echo add-on" in clash.text
    assert config_of(plat, "shop", v1 + 3)["ECHO_TOKEN"] == token  # nothing changed
    listed = client.get("/api/v1/apps/shop/addons").json()
    assert [a["kind"] for a in listed] == ["echo"]
    removed = client.delete("/api/v1/apps/shop/addons/echo")
    assert removed.status_code == 200 and removed.json()["message"].startswith("removed ")
    assert "ECHO_TOKEN" not in config_of(plat, "shop", removed.json()["release"])
    assert not Path(rolled["ECHO_DIR"]).exists()
    assert client.get("/api/v1/apps/shop/addons").json() == []


def test_addon_refusals_change_nothing(plat: Platform, client: TestClient,
                                       tmp_path: Path) -> None:
    v1 = deployed(plat, client, tmp_path)
    cases = [({"kind": "nosuch"}, "available: echo"),
             ({"kind": "echo", "options": {"colour": "red"}}, "known options: fail, size"),
             ({"kind": "echo", "options": {"size": "big"}}, "size must be a number"),
             ({"kind": "Echo!"}, "")]
    for body, message in cases:
        answer = client.post("/api/v1/apps/shop/addons", json=body)
        assert 400 <= answer.status_code < 500, answer.text
        assert message in answer.text
    assert client.get("/api/v1/apps/shop/addons").json() == []
    assert client.get("/api/v1/apps/shop/releases").json()[0]["version"] == v1
    assert client.post("/api/v1/apps/shop/addons", json={"kind": "echo"}).status_code == 201
    again = client.post("/api/v1/apps/shop/addons", json={"kind": "echo"})
    assert again.status_code == 409 and "already has the echo add-on" in again.text
    missing = client.delete("/api/v1/apps/shop/addons/nosuch")
    assert missing.status_code == 404


def test_dry_run_lists_the_pipeline_and_changes_nothing(plat: Platform, client: TestClient
                                                       ) -> None:
    client.post("/api/v1/apps", json={"name": "shop"})
    answer = client.get("/api/v1/apps/shop/deploy-plan")
    assert answer.status_code == 200, answer.text
    steps = {s["name"]: s for s in answer.json()["steps"]}
    assert list(steps) == ["receive", "build", "scan", "addons", "release", "assets",
                           "recipes", "activate", "marker", "watch", "notify"]
    assert steps["build"]["runs"] and steps["release"]["runs"]
    assert not steps["scan"]["runs"] and "advisory database is empty" in steps["scan"]["reason"]
    assert not steps["addons"]["runs"] and steps["addons"]["reason"] == "no add-ons attached"
    assert not steps["activate"]["runs"] and "runtime" in steps["activate"]["reason"]
    assert not steps["recipes"]["runs"] and "runtime" in steps["recipes"]["reason"]
    assert client.get("/api/v1/apps/shop/builds").json() == []
    assert client.get("/api/v1/apps/nope/deploy-plan").status_code == 404


def test_deploy_lock_refuses_a_second_deploy_and_recovers_per_host(
        plat: Platform, client: TestClient) -> None:
    client.post("/api/v1/apps", json={"name": "shop"})
    here = socket.gethostname()
    app_id = deploys.acquire_lock(plat, "shop", deploys.holder("ada"))
    with pytest.raises(Conflict, match=f"ada@{here}"):
        deploys.acquire_lock(plat, "shop", deploys.holder("bob"))
    build_id = deploys.start_build(plat, app_id, "ada", 10, "")
    assert deploys.recover_own_locks(plat, host="another-host") == 0
    with pytest.raises(Conflict):
        deploys.acquire_lock(plat, "shop", deploys.holder("bob"))
    assert deploys.recover_own_locks(plat) == 1
    with plat.sessions.begin() as s:
        build = s.get(Build, build_id)
        assert build is not None and build.status == "failed"
        assert "interrupted" in build.error
    deploys.release_lock(plat, deploys.acquire_lock(plat, "shop", deploys.holder("bob")))


def test_alerts_go_out_without_uptime_monitoring(plat: Platform, client: TestClient,
                                                 receiver: Receiver) -> None:
    client.post("/api/v1/apps", json={"name": "shop"})
    with plat.sessions.begin() as s:
        maintainers.add(s, "shop", "Ada", "ada@example.com", None, [receiver.json_url("ada")], "t")
    assert plat.uptime is None
    alerts.on_crash(plat, "shop", "worker.1", ["Traceback", "KeyError: 'x'"])

    async def deliver() -> None:
        await plat.notifier.start()
        try:
            await asyncio.to_thread(wait_for, lambda: receiver.json_posts, 20)
        finally:
            await plat.notifier.stop()

    asyncio.run(deliver())
    [post] = receiver.json_posts
    assert "worker.1 keeps crashing" in str(post)


def test_maintainers_show_each_channels_last_error(plat: Platform, client: TestClient,
                                                   receiver: Receiver,
                                                   closed_port: int) -> None:
    client.post("/api/v1/apps", json={"name": "shop"})
    dead = f"json://127.0.0.1:{closed_port}/hook"  # nothing listens there
    with plat.sessions.begin() as s:
        maintainers.add(s, "shop", "Ada", "ada@example.com", None,
                        [receiver.json_url("ada")], "t")
        maintainers.add(s, "shop", "Bob", "bob@example.com", None, [dead], "t")
    alerts.on_crash(plat, "shop", "web.1", ["boom"])

    def delivered() -> bool:
        people = {m["name"]: m for m in client.get("/api/v1/apps/shop/maintainers").json()}
        bob = {c["channel"]: c for c in people["Bob"]["channels"]}
        ada = {c["channel"]: c for c in people["Ada"]["channels"]}
        return bool(bob.get("apprise", {}).get("last_error")
                    and ada.get("apprise", {}).get("last_sent_at"))

    async def deliver() -> None:
        await plat.notifier.start()
        try:
            await asyncio.to_thread(wait_for, delivered, 30)
        finally:
            await plat.notifier.stop()

    asyncio.run(deliver())
    people = {m["name"]: m for m in client.get("/api/v1/apps/shop/maintainers").json()}
    [ada_apprise] = [c for c in people["Ada"]["channels"] if c["channel"] == "apprise"]
    assert ada_apprise["last_error"] is None
    [bob_apprise] = [c for c in people["Bob"]["channels"] if c["channel"] == "apprise"]
    assert "json://" in bob_apprise["last_error"]
    creds = credentials.read(plat.settings.home)
    assert creds is not None
    client.post("/login", data={"token": creds.token})  # the dashboard's own session
    page = client.get("/apps/shop", follow_redirects=False)
    assert page.status_code == 200 and bob_apprise["last_error"] in page.text

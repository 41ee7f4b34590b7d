"""Uptime monitoring through the real CLI and `roost up`: a down target texts its maintainer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.test_foundation import ok
from tests.monitor.uptime.target import Target
from tests.notify.receivers import Receiver

PHONE = "+15551230001"


@pytest.fixture
def paging_server(tmp_path: Path, receiver: Receiver) -> Iterator[Server]:
    srv = start_server(tmp_path, {"ROOST_SMS_URL": receiver.sms_url})
    yield srv
    stop_server(srv)


def test_notify_test_reaches_provider(paging_server: Server, receiver: Receiver) -> None:
    srv = paging_server
    ok(srv, "apps", "create", "shop")
    ok(srv, "maintainers", "add", "shop", "--name", "Ada", "--phone", PHONE,
       "--notify", receiver.json_url("ada"))
    out = ok(srv, "notify", "test", "shop")
    assert "sms" in out and "ok" in out
    assert any("test" in body.lower() for body in receiver.to(PHONE))
    assert receiver.json_posts


def test_outage_pages_once_and_recovers(paging_server: Server, receiver: Receiver) -> None:
    srv = paging_server
    target = Target().start()
    try:
        ok(srv, "apps", "create", "shop")
        ok(srv, "maintainers", "add", "shop", "--name", "Ada", "--phone", PHONE)
        out = ok(srv, "monitors", "add", "shop", "--url", target.url, "--interval", "10")
        monitor_id = out.split("#")[1].split()[0]
        wait_for(lambda: json.loads(ok(srv, "monitors", "info", monitor_id, "--json"))
                 ["monitor"]["state"] == "up", timeout=30, interval=0.5)
        target.stop()
        wait_for(lambda: receiver.to(PHONE), timeout=10 * 2 + 15, interval=0.5)
        pages = receiver.to(PHONE)
        assert len(pages) == 1 and "shop" in pages[0] and len(pages[0]) <= 160
        incidents = json.loads(ok(srv, "incidents", "shop", "--open", "--json"))
        assert len(incidents) == 1 and incidents[0]["evidence"]
        ok(srv, "incidents", "ack", str(incidents[0]["id"]))
        again = srv.roost("incidents", "ack", str(incidents[0]["id"]))
        assert again.returncode != 0
        target.start()
        wait_for(lambda: len(receiver.to(PHONE)) == 2, timeout=10 * 2 + 15, interval=0.5)
        assert json.loads(ok(srv, "incidents", "shop", "--open", "--json")) == []
        status = httpx.get(srv.url + "/status/shop")
        assert status.status_code == 200 and "90 days" in status.text
        assert status.text.count('class="bar ') == 90
        browser = httpx.Client(base_url=srv.url)
        browser.post("/login", data={"token": json.loads(
            (srv.home / "credentials.json").read_text())["token"]})
        home = browser.get("/").text
        assert "Monitors" in home and ">shop<" in home
        assert target.url in browser.get("/apps/shop/uptime").text
        health = httpx.get(srv.url + "/api/v1/health").json()
        assert health["uptime"]["monitors"] == 1 and health["uptime"]["last_check_age_s"] < 30
        # The console says what happened, not every request the checks and pages made.
        assert "HTTP Request:" not in srv.log.read_text(errors="replace")
    finally:
        target.stop()


def test_monitor_commands_and_refusals(paging_server: Server) -> None:
    srv = paging_server
    ok(srv, "apps", "create", "shop")
    out = ok(srv, "monitors", "add", "shop", "--url", "http://127.0.0.1:9/health",
             "--expect", "200-299", "--interval", "60")
    monitor_id = out.split("#")[1].split()[0]
    listed = json.loads(ok(srv, "monitors", "shop", "--json"))
    assert [m["id"] for m in listed] == [int(monitor_id)]
    ok(srv, "monitors", "pause", monitor_id)
    assert json.loads(ok(srv, "monitors", "--json"))[0]["paused"] is True
    ok(srv, "monitors", "resume", monitor_id)
    for args, says in [
        (["monitors", "add", "shop", "--url", "ftp://x"], "url"),
        (["monitors", "add", "shop", "--url", "https://x", "--interval", "2"], "10"),
        (["monitors", "add", "shop", "--url", "https://x", "--regex", "("], "regex"),
        (["monitors", "add", "nope", "--url", "https://x"], "no app named"),
        (["monitors", "info", "999"], "999"),
        (["maintenance", "add", "shop"], "--end or --duration"),
        (["maintenance", "add", "shop", "--duration", "soon"], "invalid duration"),
        (["maintenance", "add", "shop", "--start", "tomorrow", "--duration", "1h"], "ISO"),
    ]:
        result = srv.roost(*args)
        assert result.returncode != 0, args
        assert says.lower() in result.stderr.lower(), (args, result.stderr)
    assert len(json.loads(ok(srv, "monitors", "--json"))) == 1
    out = ok(srv, "maintenance", "add", "shop", "--duration", "1h", "--reason", "upgrade")
    window = out.split("#")[1].split()[0]
    assert json.loads(ok(srv, "maintenance", "shop", "--json"))[0]["reason"] == "upgrade"
    ok(srv, "maintenance", "remove", window)
    ok(srv, "monitors", "remove", monitor_id)
    assert json.loads(ok(srv, "monitors", "--json")) == []


def test_without_providers_messages_go_to_console(server: Server) -> None:
    ok(server, "apps", "create", "solo")
    ok(server, "maintainers", "add", "solo", "--name", "Ada", "--phone", PHONE,
       "--email", "ada@example.com")
    out = ok(server, "notify", "test", "solo")
    assert "console" in out
    wait_for(lambda: f"sms to {PHONE}" in server.log.read_text(), timeout=10)
    assert "email to ada@example.com" in server.log.read_text()

"""The product loop end to end: a deployed app goes down, its automatic monitor texts its
maintainer at Twilio's wire format, it comes back, and one recovery message follows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.test_foundation import ok
from tests.notify.receivers import Receiver

PHONE = "+15551230007"


@pytest.fixture
def loop_server(tmp_path: Path, receiver: Receiver) -> Iterator[Server]:
    srv = start_server(tmp_path, {"ROOST_SMS_URL": receiver.sms_url,
                                  "ROOST_APP_MONITOR_INTERVAL_SECONDS": "10"})
    yield srv
    stop_server(srv)


def test_deployed_app_down_pages_by_sms_and_recovers_once(
        loop_server: Server, receiver: Receiver, tmp_path: Path) -> None:
    srv = loop_server
    ok(srv, "apps", "create", "shop")
    ok(srv, "maintainers", "add", "shop", "--name", "Ada", "--phone", PHONE)
    src = tmp_path / "shop"
    src.mkdir()
    (src / "Procfile").write_text("web: python3 -m http.server $PORT --bind 127.0.0.1\n")
    deployed = srv.roost("deploy", "shop", str(src), timeout=300)
    assert deployed.returncode == 0, deployed.stderr

    def app_monitor() -> dict[str, object] | None:
        found = [m for m in json.loads(ok(srv, "monitors", "shop", "--json"))
                 if m.get("owner") == "app"]
        return found[0] if found else None

    monitor = wait_for(app_monitor, timeout=30, interval=0.5)
    assert isinstance(monitor, dict)
    wait_for(lambda: json.loads(ok(srv, "monitors", "info", str(monitor["id"]), "--json"))
             ["monitor"]["state"] == "up", timeout=60, interval=0.5)

    ok(srv, "scale", "shop", "web=0")
    wait_for(lambda: receiver.to(PHONE), timeout=90, interval=0.5)
    [page] = receiver.to(PHONE)
    assert "shop" in page and len(page) <= 160
    assert receiver.attempts[0]["To"] == PHONE and receiver.attempts[0]["Body"] == page

    ok(srv, "scale", "shop", "web=1")
    wait_for(lambda: len(receiver.to(PHONE)) == 2, timeout=90, interval=0.5)
    assert json.loads(ok(srv, "incidents", "shop", "--open", "--json")) == []
    recovery = receiver.to(PHONE)[1]
    assert "shop" in recovery and recovery != page

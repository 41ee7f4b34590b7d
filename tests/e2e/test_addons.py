"""`roost addons` and `roost deploy --dry-run` through the real CLI and `roost up`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.test_foundation import ok
from tests.orchestration.echo_addon import KIND

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def addon_server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path, {"ROOST_ADDON_KINDS": KIND, "PYTHONPATH": str(ROOT)})
    yield srv
    stop_server(srv)


def test_addons_add_list_remove(addon_server: Server, tmp_path: Path) -> None:
    srv = addon_server
    ok(srv, "apps", "create", "shop")
    src = tmp_path / "shop"
    src.mkdir()
    (src / "Procfile").write_text("web: python3 -m http.server $PORT --bind 127.0.0.1\n")
    plan = srv.roost("deploy", "shop", str(src), "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "build" in plan.stdout and "no add-ons attached" in plan.stdout
    assert json.loads(ok(srv, "builds", "shop", "--json")) == []

    assert srv.roost("deploy", "shop", str(src), timeout=300).returncode == 0
    bad = srv.roost("addons", "add", "shop", "echo", "--option", "size")
    assert bad.returncode != 0 and "KEY=VALUE" in bad.stderr
    ok(srv, "addons", "add", "shop", "echo", "--option", "size=2")
    listed = json.loads(ok(srv, "addons", "shop", "--json"))
    assert listed[0]["kind"] == "echo" and listed[0]["health"] == "ok"
    releases = json.loads(ok(srv, "releases", "shop", "--json"))
    assert releases[0]["meta"]["addon_keys"] == ["ECHO_DIR", "ECHO_TOKEN"]
    refused = srv.roost("addons", "remove", "shop", "echo", "--confirm", "other")
    assert refused.returncode != 0
    assert json.loads(ok(srv, "addons", "shop", "--json"))
    ok(srv, "addons", "remove", "shop", "echo", "--confirm", "shop")
    assert json.loads(ok(srv, "addons", "shop", "--json")) == []

"""The router's kernel setting: set while Caddy runs, restored afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roost.runtime.kernel import MIGRATE_REQ, migrate_queued_connections
from tests.runtime.conftest import Platform


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may change the setting")
def test_migrate_req_is_set_then_restored(tmp_path: Path) -> None:
    knob = tmp_path / "tcp_migrate_req"
    knob.write_text("0\n")
    restore = migrate_queued_connections(knob)
    assert knob.read_text() == "1"
    restore()
    assert knob.read_text() == "0"


def test_missing_setting_is_left_alone(tmp_path: Path) -> None:
    restore = migrate_queued_connections(tmp_path / "absent")
    restore()
    assert not (tmp_path / "absent").exists()


@pytest.mark.skipif(os.geteuid() != 0 or not MIGRATE_REQ.exists(),
                    reason="needs root and Linux >= 5.14")
def test_router_holds_the_setting_while_it_runs(platform: Platform) -> None:
    assert MIGRATE_REQ.read_text().strip() == "1"

"""ROOST_HOME stays passable for the postgres user once Roost runs its own PostgreSQL: the
runtime's start (which makes home private) keeps o+x then, and only then."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roost.runtime.layout import secure_home


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster runs as another user only as root")
def test_home_keeps_o_x_only_for_roosts_own_postgres(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o711)
    secure_home(home, None)
    assert home.stat().st_mode & 0o777 == 0o700
    (home / "postgres").mkdir()
    os.chmod(home, 0o711)
    secure_home(home, None)
    assert home.stat().st_mode & 0o777 == 0o701

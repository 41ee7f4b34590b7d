"""The test harness itself: in CI a missing PostgreSQL fails the run instead of skipping."""

from __future__ import annotations

import pytest

from tests import conftest


def test_missing_postgres_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "PG_URL", "")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true, so this fails instead of skipping"):
        conftest.new_pg_database()


def test_missing_postgres_skips_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "PG_URL", "")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not configured"):
        conftest.new_pg_database()

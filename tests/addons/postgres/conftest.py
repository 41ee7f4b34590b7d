"""Platforms whose postgres add-on uses the suite's server, or a cluster Roost manages."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from roost import credentials
from roost.addons.postgres.cluster import Cluster
from roost.api.app import create_app
from roost.orchestration.platform import Platform, ensure_local_credentials, open_platform
from roost.settings import Settings
from tests.conftest import PG_URL, free_port


@dataclass
class Roost:
    """A platform and an authenticated API client on it."""

    plat: Platform
    api: TestClient

    def add(self, app: str, **options: str) -> dict[str, object]:
        """Create ``app`` (if needed) and add postgres to it; fail the test on refusal."""
        self.api.post("/api/v1/apps", json={"name": app})
        added = self.api.post(f"/api/v1/apps/{app}/addons",
                              json={"kind": "postgres", "options": options})
        assert added.status_code == 201, added.text
        return dict(added.json())


def new_app() -> str:
    """An app name no other test (or test run) on the shared server uses."""
    return "t" + uuid.uuid4().hex[:10]


def admin_query(sql: str, *params: object) -> list[tuple[object, ...]]:
    """Rows of ``sql`` run as the test server's superuser."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description else []


def _roost(settings: Settings) -> Iterator[Roost]:
    plat = open_platform(settings)
    ensure_local_credentials(plat)
    creds = credentials.read(settings.home)
    assert creds is not None
    with TestClient(create_app(plat)) as client:
        client.headers["Authorization"] = f"Bearer {creds.token}"
        yield Roost(plat, client)
    plat.engine.dispose()


@pytest.fixture
def roost(db_url: str, tmp_path: Path) -> Iterator[Roost]:
    """Roost with the suite's PostgreSQL as its one ROOST_PG_SERVER, on both stores."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (ROOST_TEST_POSTGRES_URL)")
    yield from _roost(Settings(home=tmp_path / "home", database_url=db_url,
                               pg_server=[PG_URL]))


@pytest.fixture(scope="module")
def managed_home() -> Iterator[tuple[Path, int]]:
    """A ROOST_HOME and port for the one Roost-managed cluster of these tests (made lazily
    by the first add-on that needs it; stopped at the end)."""
    # Outside pytest's temporary root: pytest keeps that at mode 700, and the cluster runs as
    # the unprivileged postgres user, which must reach its data directory.
    top = Path(tempfile.mkdtemp(prefix="roost-pg-test-"))
    home, port = top / "home", free_port()
    yield home, port
    Cluster(home, port).stop()
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def scram_server(managed_home: tuple[Path, int]) -> str:
    """The admin URL of the managed cluster, which checks passwords (the suite's trusts)."""
    return Cluster(*managed_home).ensure().admin_url

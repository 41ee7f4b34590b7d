"""Fixtures: moto's Route53 and PowerDNS on 127.0.0.1, and a platform pointed at both."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import admin_client, in_ci
from tests.dns.servers import Moto, PowerDns, pdns_binary, start_moto, start_pdns


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    """moto's Route53 (server mode) for the whole session."""
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PowerDns]:
    """PowerDNS Authoritative for the whole session (skipped without it, failed in CI)."""
    if pdns_binary() is None:
        message = "pdns_server not installed: run scripts/ensure-pdns.sh (make test does)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = start_pdns(tmp_path_factory.mktemp("pdns"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS settings of the machine leak into a test."""
    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var, raising=False)


def zone_name() -> str:
    """A zone name no other test uses (moto and PowerDNS live for the whole session)."""
    return f"z{uuid.uuid4().hex[:10]}.example.com"


@pytest.fixture
def dns_settings() -> dict[str, Any]:
    """More settings for ``dns_platform`` (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def dns_platform(db_url: str, tmp_path: Path, moto: Moto, pdns: PowerDns,
                 dns_settings: dict[str, Any]) -> Iterator[Any]:
    """A migrated platform whose settings point Route53 at moto and PowerDNS at pdns."""
    from roost.orchestration.platform import ensure_local_credentials, open_platform
    from roost.settings import Settings

    settings = Settings(home=tmp_path / "home", database_url=db_url,
                        dns_route53_access_key_id="testing",
                        dns_route53_secret_access_key="testing",
                        dns_route53_endpoint_url=moto.url, dns_powerdns_url=pdns.api_url,
                        dns_powerdns_key=pdns.api_key, **dns_settings)
    ctx = open_platform(settings)
    ensure_local_credentials(ctx)
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def dns_api(dns_platform: Any) -> Iterator[Any]:
    """A TestClient of the control plane on ``dns_platform``, with the admin token."""
    with admin_client(dns_platform) as client:
        yield client

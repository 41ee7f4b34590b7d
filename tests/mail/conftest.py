"""A platform with the email add-on on app ``shop``, its mail service running, and a sink."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roost import credentials
from roost.api.app import create_app
from roost.mail.service import MailService
from roost.orchestration import addons, mailflow
from roost.orchestration.platform import Platform, ensure_local_credentials, open_platform
from roost.settings import Settings
from tests.conftest import free_port
from tests.mail.servers import Hooks, Sink

DOMAIN = "mail.shop.test"


@dataclass
class Mailer:
    """Everything a mail test uses."""

    platform: Platform
    client: TestClient
    env: dict[str, str]
    sink: Sink
    service: MailService
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the service's loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)


@pytest.fixture
def sink() -> Iterator[Sink]:
    """An SMTP sink on 127.0.0.1."""
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    """A webhook receiver on 127.0.0.1."""
    h = Hooks().start()
    yield h
    h.stop()


def start_mailer(db_url: str, home: Path, sink: Sink | None, **extra: Any
                 ) -> Iterator[Mailer]:
    """Open a platform (relaying to ``sink``, or capturing), add email to ``shop``, run mail."""
    values: dict[str, Any] = {
        "mail_relay": f"smtp://127.0.0.1:{sink.port}" if sink else "",
        "mail_smtp_listen": f"127.0.0.1:{free_port()}", "mail_workers": 2,
        "mail_dns_resolver": "off"}
    settings = Settings(home=home, database_url=db_url, **{**values, **extra})
    platform = open_platform(settings)
    ensure_local_credentials(platform)
    creds = credentials.read(settings.home)
    assert creds is not None
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stop = asyncio.run_coroutine_threadsafe(mailflow.start_mail(platform), loop).result(30)
    assert platform.mail is not None
    with TestClient(create_app(platform)) as client:
        client.headers["Authorization"] = f"Bearer {creds.token}"
        assert client.post("/api/v1/apps", json={"name": "shop"}).status_code in (200, 201)
        answer = client.post("/api/v1/apps/shop/addons",
                             json={"kind": "email", "options": {"domain": DOMAIN}})
        assert answer.status_code == 201, answer.text
        env = addons.config_of_app(platform, "shop")
        mailer = Mailer(platform, client, env, sink or Sink(), platform.mail, loop)
        try:
            yield mailer
        finally:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            platform.engine.dispose()


@pytest.fixture
def mailer(db_url: str, tmp_path: Path, sink: Sink) -> Iterator[Mailer]:
    """Relay mode: mail goes to ``sink``."""
    yield from start_mailer(db_url, tmp_path / "home", sink)


@pytest.fixture
def capture(db_url: str, tmp_path: Path) -> Iterator[Mailer]:
    """Capture mode: no relay, mail stays in the local inbox."""
    yield from start_mailer(db_url, tmp_path / "home", None)

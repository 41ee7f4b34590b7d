"""The platform's own mail (ROOST_SMTP_URL=roost://…) goes through the mail queue: signed,
logged, and a bounced alert shows next to its maintainer; bounce and complaint rates over
the providers' limits tell an app's maintainers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from roost.mail import dkim, domains, events
from roost.orchestration import alerts, mailflow, services
from roost.store.base import utcnow
from roost.store.models.notify import OutboxMessage
from tests.conftest import wait_for
from tests.mail.conftest import Mailer, start_mailer
from tests.mail.servers import Sink
from tests.mail.test_send import dkim_records


@pytest.fixture
def ops(db_url: str, tmp_path: Path, sink: Sink) -> Iterator[Mailer]:
    """Relay mode with the platform's mail sent as alerts@ops.roost.test, notifier running."""
    for mailer in start_mailer(db_url, tmp_path / "home", sink,
                               smtp_url="roost://alerts@ops.roost.test"):
        stop = mailer.run(services.start_notifier(mailer.platform))
        try:
            yield mailer
        finally:
            mailer.run(stop())


def test_a_bounced_alert_shows_next_to_the_maintainer(ops: Mailer) -> None:
    client = ops.client
    for name, email in (("Ada", "ada@example.org"), ("Bob", "refused-bob@example.org")):
        assert client.post("/api/v1/apps/shop/maintainers",
                           json={"name": name, "email": email}).status_code == 201
    alerts.notify_maintainers(ops.platform, "shop", "test:1", "test", "Disk full",
                              "The disk of shop is full.")
    wait_for(lambda: ops.sink.to("ada@example.org"), timeout=60)
    got = ops.sink.to("ada@example.org")[0]
    assert b"From: alerts@ops.roost.test" in got.data
    assert got.mail_from.endswith("@bounce.ops.roost.test")
    with ops.platform.sessions.begin() as session:
        sender = domains.sender(ops.platform.cipher, domains.row_of_app(session,
                                                                         domains.PLATFORM))
    record = {f"{sender.selector}._domainkey.ops.roost.test": dkim.public_record(
        sender.dkim_key)}
    assert dkim.verify(got.data, record)

    def bob() -> str:
        people = client.get("/api/v1/apps/shop/maintainers").json()
        return next(p["mail"] for p in people if p["name"] == "Bob")

    trouble = wait_for(bob, timeout=60)
    assert str(trouble).startswith("failed ") and "550" in str(trouble)
    ada = next(p for p in client.get("/api/v1/apps/shop/maintainers").json()
               if p["name"] == "Ada")
    assert ada["mail"] == ""
    assert dkim_records(ops)  # the app's own mail is untouched by the platform's domain


def test_bounce_and_complaint_rates_tell_the_maintainers(ops: Mailer) -> None:
    assert ops.client.post("/api/v1/apps/shop/maintainers",
                           json={"name": "Ada", "email": "ada@example.org"}).status_code == 201
    now = utcnow()
    with ops.platform.sessions.begin() as session:
        for i in range(40):
            events.record(session, "shop", None, "delivered", recipient=f"u{i}@example.org",
                          now=now - timedelta(minutes=5))
        for i in range(3):
            events.record(session, "shop", None, "bounced", recipient=f"b{i}@example.org",
                          severity="permanent", now=now - timedelta(minutes=5))
        events.record(session, "shop", None, "complained", recipient="c@example.org",
                      now=now - timedelta(minutes=5))
    assert mailflow.check_rates(ops.platform, now) == ["shop", "shop"]
    assert mailflow.check_rates(ops.platform, now) == ["shop", "shop"]  # queued once: same key
    with ops.platform.sessions.begin() as session:
        from sqlalchemy import select

        subjects = sorted(session.scalars(select(OutboxMessage.subject)
                                          .where(OutboxMessage.kind == "mail")))
    assert subjects == ["shop: mail bounce rate 7.5% over the last hour",
                        "shop: mail complaint rate 2.5% over the last hour"]
    assert mailflow.check_rates(ops.platform, now + timedelta(hours=2)) == []

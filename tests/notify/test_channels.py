"""Channels at their wire formats: Twilio Messages API, SMTP (aiosmtpd), Apprise json://."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from roost.errors import ConfigError, DeliveryError
from roost.notify.channels import Deliverer
from roost.notify.gsm import fit, septets
from roost.notify.recipients import Recipient
from roost.notify.testsend import send_test
from tests.conftest import free_port
from tests.notify.receivers import SENDER, Receiver


class Inbox(Message):
    """Keeps every received mail."""

    def __init__(self) -> None:
        super().__init__()
        self.mails: list[object] = []

    def handle_message(self, message: object) -> None:
        """Record one mail."""
        self.mails.append(message)


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}?from=roost@example.com", inbox
    controller.stop()


def _send(deliverer: Deliverer, channel: str, address: str, body: str) -> str:
    async def go() -> str:
        try:
            return await deliverer.send(channel, address, "subject", body)
        finally:
            await deliverer.aclose()
    return asyncio.run(go())


def test_twilio_wire_format(receiver: Receiver) -> None:
    answer = _send(Deliverer(receiver.sms_url), "sms", "+15550100001", "DOWN shop: HTTP 500")
    assert answer.startswith("twilio 201 sid=SM")
    assert receiver.sms == [{"To": "+15550100001", "From": SENDER, "Body": "DOWN shop: HTTP 500"}]


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (401, True), (429, False),
                                                   (500, False), (503, False)])
def test_twilio_errors_classified(receiver: Receiver, status: int, permanent: bool) -> None:
    receiver.fail_until, receiver.fail_status = time.monotonic() + 60, status
    with pytest.raises(DeliveryError) as caught:
        _send(Deliverer(receiver.sms_url), "sms", "+15550100001", "x")
    assert caught.value.permanent is permanent and str(status) in str(caught.value)


def test_twilio_unreachable_is_temporary(closed_port: int) -> None:
    url = f"twilio://AC1:tok@+15550000000?api=http://127.0.0.1:{closed_port}"
    with pytest.raises(DeliveryError) as caught:
        _send(Deliverer(url), "sms", "+15550100001", "x")
    assert caught.value.permanent is False


@pytest.mark.parametrize("url", ["twilio://nocreds", "nexmo://a:b@c", "nonsense"])
def test_bad_sms_url_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="ROOST_SMS_URL"):
        Deliverer(url)


def test_unknown_channel_is_permanent() -> None:
    with pytest.raises(DeliveryError, match="no pigeon channel") as caught:
        _send(Deliverer(), "pigeon", "+15550100001", "x")
    assert caught.value.permanent


def test_unconfigured_sms_goes_to_console(capsys: pytest.CaptureFixture[str]) -> None:
    deliverer = Deliverer()
    assert not deliverer.configured("sms")
    answer = _send(deliverer, "sms", "+15550100001", "shop is down")
    assert "console" in answer
    out = capsys.readouterr().out
    assert "sms to +15550100001" in out and "shop is down" in out


def test_smtp_delivers(smtp: tuple[str, Inbox]) -> None:
    url, inbox = smtp
    answer = _send(Deliverer(smtp_url=url), "email", "ada@example.com", "a slow endpoint")
    assert "accepted" in answer
    [mail] = inbox.mails
    assert mail["To"] == "ada@example.com" and mail["From"] == "roost@example.com"  # type: ignore[index]


def test_apprise_json_url(receiver: Receiver) -> None:
    _send(Deliverer(), "apprise", receiver.json_url("chat"), "vulnerability found")
    [post] = receiver.json_posts
    assert post["path"] == "/chat" and post["message"] == "vulnerability found"


def test_apprise_failure_is_temporary_and_bad_scheme_permanent(closed_port: int) -> None:
    with pytest.raises(DeliveryError) as caught:
        _send(Deliverer(), "apprise", f"json://127.0.0.1:{closed_port}/x", "m")
    assert caught.value.permanent is False
    with pytest.raises(DeliveryError) as caught:
        _send(Deliverer(), "apprise", "nosuchscheme://x", "m")
    assert caught.value.permanent is True


def test_send_test_reports_each_channel(receiver: Receiver, smtp: tuple[str, Inbox]) -> None:
    ada = Recipient("m:1", "Ada", email="ada@example.com", phone="+15550100001",
                    notify_urls=[receiver.json_url("ada")])
    bob = Recipient("m:2", "Bob", phone="+15550100002")
    receiver.fail_until, receiver.fail_status = 0.0, 500
    deliverer = Deliverer(receiver.sms_url, smtp[0])

    async def go() -> list[object]:
        try:
            return list(await send_test("shop", {"shop": [ada, bob]}.__getitem__, deliverer))
        finally:
            await deliverer.aclose()

    results = asyncio.run(go())
    assert [(r.recipient, r.channel, r.ok) for r in results] == [  # type: ignore[attr-defined]
        ("Ada", "sms", True), ("Ada", "email", True), ("Ada", "apprise", True),
        ("Bob", "sms", True)]
    assert len(receiver.sms) == 2 and len(smtp[1].mails) == 1
    assert results[2].address == "json://…"  # type: ignore[attr-defined]


def test_gsm_fit() -> None:
    assert fit("naïve café — ok…") == "na?ve café - ok..."
    long = fit("x" * 300)
    assert len(long) == 160 and long.endswith("...")
    assert septets(fit("{" * 100)) <= 160

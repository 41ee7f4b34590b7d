"""A recipient refused with 550 is suppressed and the app's webhook hears a signed `failed`;
reports at the return path (DSN bounces, ARF complaints) are attached and suppress too."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
from typing import Any

from tests.conftest import wait_for
from tests.mail.conftest import DOMAIN, Mailer
from tests.mail.servers import Hooks
from tests.mail.test_send import send_api, send_smtp


def genuine(body: dict[str, Any], key: str) -> bool:
    """Mailgun's documented check of a webhook's signature."""
    sig = body["signature"]
    want = hmac.new(key.encode(), (sig["timestamp"] + sig["token"]).encode(),
                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig["signature"])


def suppressions(mailer: Mailer) -> dict[str, str]:
    answer = mailer.client.get("/api/v1/apps/shop/email/suppressions")
    assert answer.status_code == 200
    return {s["address"]: s["kind"] for s in answer.json()}


def test_550_suppresses_and_the_webhook_hears_a_signed_failed(mailer: Mailer,
                                                              hooks: Hooks) -> None:
    assert mailer.client.put("/api/v1/apps/shop/email/webhook",
                             json={"url": hooks.url}).status_code == 200
    answer = send_api(mailer, {"from": f"orders@{DOMAIN}", "to": "refused@example.org",
                               "subject": "hi", "text": "x", "v:user": "7"})
    assert answer.status_code == 200
    wait_for(lambda: suppressions(mailer).get("refused@example.org") == "bounce")
    wait_for(lambda: hooks.bodies)
    body = hooks.bodies[0]
    assert genuine(body, mailer.env["MAILGUN_WEBHOOK_SIGNING_KEY"])
    data = body["event-data"]
    assert (data["event"], data["severity"], data["recipient"]) == \
        ("failed", "permanent", "refused@example.org")
    assert data["delivery-status"]["code"] == 550
    assert data["user-variables"] == {"user": "7"}
    assert data["message"]["headers"]["message-id"] == answer.json()["id"].strip("<>")
    assert not mailer.sink.to("refused@example.org")

    again = send_api(mailer, {"from": f"orders@{DOMAIN}", "to": "refused@example.org",
                              "subject": "hi again", "text": "x"})
    assert again.status_code == 200
    log = mailer.client.get("/api/v1/apps/shop/email/log",
                            params={"to": "refused@example.org", "event": "failed"}).json()
    assert [e["reason"] for e in log] == ["suppress-bounce", "bounce"]
    wait_for(lambda: len(hooks.bodies) == 2)
    assert hooks.bodies[1]["event-data"]["reason"] == "suppress-bounce"

    assert mailer.client.delete(
        "/api/v1/apps/shop/email/suppressions/refused@example.org").status_code == 200
    assert "refused@example.org" not in suppressions(mailer)
    gone = mailer.client.delete("/api/v1/apps/shop/email/suppressions/nobody@example.org")
    assert gone.status_code == 404 and "not suppressed" in gone.json()["error"]["message"]


def test_webhook_retried_on_500_and_stopped_on_406(mailer: Mailer, hooks: Hooks) -> None:
    hooks.statuses = [406]
    mailer.client.put("/api/v1/apps/shop/email/webhook", json={"url": hooks.url})
    send_smtp(mailer.env, "ann@example.org")
    wait_for(lambda: hooks.bodies)
    assert hooks.bodies[0]["event-data"]["event"] == "delivered"
    from sqlalchemy import select

    from roost.store.models.mail import MailEvent
    with mailer.platform.sessions.begin() as session:
        hooked = wait_for(lambda: session.scalars(
            select(MailEvent).where(MailEvent.event == "delivered",
                                    MailEvent.hook_status != "pending")).first())
        assert hooked.hook_status == "stopped" and "406" in hooked.hook_error  # type: ignore[attr-defined]
    hooks.statuses = [500]
    send_smtp(mailer.env, "bob@example.org")
    wait_for(lambda: len(hooks.bodies) == 2)
    with mailer.platform.sessions.begin() as session:
        row = wait_for(lambda: session.scalars(select(MailEvent).where(
            MailEvent.recipient == "bob@example.org", MailEvent.event == "delivered",
            MailEvent.hook_attempts == 1)).first())
        assert row.hook_status == "pending" and row.hook_error == "HTTP 500"  # type: ignore[attr-defined]
        # Mailgun's schedule: the next try 10 minutes later.
        delay = row.hook_next_at - row.created_at  # type: ignore[attr-defined]
        assert 590 <= delay.total_seconds() <= 620


def dsn(to: str, recipient: str, original_id: str) -> bytes:
    return (f"From: MAILER-DAEMON@example.org\r\nTo: {to}\r\nSubject: Undelivered\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
            " boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nIt bounced.\r\n"
            "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example"
            f".org\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\nAction: failed\r\n"
            "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 mailbox gone\r\n\r\n"
            "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"Message-ID: {original_id}\r\n\r\n--b1--\r\n").encode()


def arf(recipient: str, original_id: str) -> bytes:
    return ("From: fbl@isp.example\r\nTo: fbl@bounce.x\r\nSubject: complaint\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report;"
            " boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
            "--b2\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
            f"User-Agent: isp/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: {recipient}\r\n\r\n"
            "--b2\r\nContent-Type: message/rfc822\r\n\r\n"
            f"Message-ID: {original_id}\r\nFrom: orders@{DOMAIN}\r\nTo: {recipient}\r\n\r\nhi\r\n"
            "--b2--\r\n").encode()


def to_return_path(mailer: Mailer, rcpt: str, data: bytes) -> tuple[int, bytes]:
    """Deliver a report the way a remote MTA does: no login, to the return path."""
    env = mailer.env
    with smtplib.SMTP(env["MAILGUN_SMTP_SERVER"], int(env["MAILGUN_SMTP_PORT"])) as smtp:
        smtp.ehlo()
        assert smtp.mail("")[0] == 250
        code, text = smtp.rcpt(rcpt)
        assert code == 250, text
        return smtp.data(data)


def test_dsn_and_arf_at_the_return_path(mailer: Mailer) -> None:
    send_smtp(mailer.env, "dana@example.org")
    send_smtp(mailer.env, "eve@example.org")
    wait_for(lambda: mailer.sink.to("dana@example.org") and mailer.sink.to("eve@example.org"))
    dana, eve = mailer.sink.to("dana@example.org")[0], mailer.sink.to("eve@example.org")[0]
    dana_id = next(line.split(b":", 1)[1].strip().decode() for line in
                   dana.data.split(b"\r\n") if line.lower().startswith(b"message-id:"))
    eve_id = next(line.split(b":", 1)[1].strip().decode() for line in
                  eve.data.split(b"\r\n") if line.lower().startswith(b"message-id:"))
    code, text = to_return_path(mailer, dana.mail_from, dsn(dana.mail_from,
                                                            "dana@example.org", dana_id))
    assert code == 250 and b"bounce of dana@example.org" in text
    code, text = to_return_path(mailer, f"fbl@bounce.{DOMAIN}", arf("eve@example.org", eve_id))
    assert code == 250 and b"complaint from eve@example.org" in text
    assert suppressions(mailer) == {"dana@example.org": "bounce",
                                    "eve@example.org": "complaint"}
    log = mailer.client.get("/api/v1/apps/shop/email/log").json()
    assert [e["event"] for e in log if e["recipient"] == "dana@example.org"][0] == "bounced"
    assert [e["event"] for e in log if e["recipient"] == "eve@example.org"][0] == "complained"
    # A forged bounce (wrong tag) changes nothing.
    forged = dana.mail_from.replace("b+", "b+9").split("-")[0] + "-000000000000@" + \
        dana.mail_from.split("@")[1]
    code, text = to_return_path(mailer, forged, dsn(forged, "ann@example.org", dana_id))
    assert code == 250 and b"names no delivery" in text
    assert "ann@example.org" not in suppressions(mailer)

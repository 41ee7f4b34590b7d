"""Apps send through SMTP and the Mailgun-style API; the sink gets both, DKIM-signed."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx

from roost.mail import dkim
from tests.conftest import wait_for
from tests.mail.conftest import DOMAIN, Mailer


def dkim_records(mailer: Mailer) -> dict[str, str]:
    """The DKIM record `roost email dns` tells the user to publish."""
    answer = mailer.client.get("/api/v1/apps/shop/email/dns")
    assert answer.status_code == 200, answer.text
    return {r["name"]: r["value"] for r in answer.json()["records"] if r["purpose"] == "dkim"}


def send_smtp(env: dict[str, str], to: str, subject: str = "Your receipt") -> None:
    """What an app does with Heroku's MAILGUN_SMTP_* vars."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"Shop <orders@{env['MAILGUN_DOMAIN']}>", to, subject
    msg.set_content("Thank you for your order.\n")
    with smtplib.SMTP(env["MAILGUN_SMTP_SERVER"], int(env["MAILGUN_SMTP_PORT"])) as smtp:
        smtp.login(env["MAILGUN_SMTP_LOGIN"], env["MAILGUN_SMTP_PASSWORD"])
        smtp.send_message(msg)


def send_api(mailer: Mailer, data: dict[str, object], **kwargs: object) -> httpx.Response:
    """What the official Mailgun client pattern does: POST form data with Basic api:KEY."""
    env = mailer.env
    url = env["MAILGUN_API_BASE"].replace(mailer.platform.settings.api_url, "")
    return mailer.client.post(f"{url}/{env['MAILGUN_DOMAIN']}/messages",
                              auth=("api", env["MAILGUN_API_KEY"]), data=data,
                              **kwargs)  # type: ignore[arg-type]


def test_config_vars_are_heroku_mailguns(mailer: Mailer) -> None:
    env = mailer.env
    assert env["MAILGUN_DOMAIN"] == DOMAIN
    assert env["MAILGUN_SMTP_LOGIN"] == f"postmaster@{DOMAIN}"
    assert env["SMTP_URL"].startswith("smtp://postmaster%40mail.shop.test:")
    assert env["MAILGUN_API_BASE"] == mailer.platform.settings.api_url + "/v3"
    for key in ("MAILGUN_API_KEY", "MAILGUN_SMTP_PASSWORD", "MAILGUN_WEBHOOK_SIGNING_KEY",
                "MAILGUN_SMTP_SERVER", "MAILGUN_SMTP_PORT"):
        assert env[key]


def test_smtp_and_api_reach_the_sink_signed(mailer: Mailer) -> None:
    send_smtp(mailer.env, "ann@example.org")
    answer = send_api(mailer, {"from": f"Shop <orders@{DOMAIN}>", "to": "bob@example.org",
                               "subject": "Reset your password", "text": "Click here",
                               "html": "<p>Click <b>here</b></p>", "v:order": "42",
                               "o:tag": "reset"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["message"] == "Queued. Thank you."
    assert body["id"].startswith("<") and body["id"].endswith(f"@{DOMAIN}>")
    wait_for(lambda: mailer.sink.to("ann@example.org") and mailer.sink.to("bob@example.org"))
    records = dkim_records(mailer)
    for rcpt in ("ann@example.org", "bob@example.org"):
        got = mailer.sink.to(rcpt)[0]
        assert got.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(got.data, records), f"DKIM of the mail to {rcpt} does not verify"
        assert got.mail_from.endswith(f"@bounce.{DOMAIN}")
    api_mail = mailer.sink.to("bob@example.org")[0].data
    assert body["id"].encode() in api_mail
    assert b'X-Mailgun-Variables: {"order": "42"}' in api_mail
    log = mailer.client.get("/api/v1/apps/shop/email/log", params={"event": "delivered"}).json()
    assert {e["recipient"] for e in log} == {"ann@example.org", "bob@example.org"}


def test_a_tampered_message_fails_dkim(mailer: Mailer) -> None:
    send_smtp(mailer.env, "carl@example.org")
    wait_for(lambda: mailer.sink.to("carl@example.org"))
    data = mailer.sink.to("carl@example.org")[0].data
    assert not dkim.verify(data.replace(b"Thank you", b"Pay us"), dkim_records(mailer))


def test_testmode_is_accepted_not_sent_and_removal_stops_sending(mailer: Mailer) -> None:
    answer = send_api(mailer, {"from": f"orders@{DOMAIN}", "to": "tess@example.org",
                               "subject": "t", "text": "x", "o:testmode": "yes"})
    assert answer.status_code == 200
    log = wait_for(lambda: mailer.client.get("/api/v1/apps/shop/email/log",
                                             params={"event": "delivered"}).json())
    assert "test mode" in log[0]["detail"]  # type: ignore[index]
    assert not mailer.sink.to("tess@example.org")

    removed = mailer.client.delete("/api/v1/apps/shop/addons/email",
                                   params={"confirm": "shop"})
    assert removed.status_code == 200 and DOMAIN in removed.json()["message"]
    again = send_api(mailer, {"from": f"orders@{DOMAIN}", "to": "ann@example.org",
                              "subject": "t", "text": "x"})
    assert again.status_code == 401
    gone = mailer.client.get("/api/v1/apps/shop/email/log")
    assert gone.status_code == 404 and "roost addons add shop email" in gone.json()["error"][
        "message"]

"""Bad submissions are refused with the provider's usual code and a reason; nothing queued."""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import func, select

from roost.store.models.mail import MailMessage
from tests.mail.conftest import DOMAIN, Mailer
from tests.mail.test_send import send_api


def queued(mailer: Mailer) -> int:
    with mailer.platform.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(MailMessage)) or 0)


GOOD = {"from": f"orders@{DOMAIN}", "to": "ann@example.org", "subject": "hi", "text": "x"}


def test_api_refusals(mailer: Mailer) -> None:
    cases = [
        (GOOD | {"from": "ceo@bank.example"}, 400, "outside mail.shop.test"),
        (GOOD | {"to": ",".join(f"u{i}@example.org" for i in range(1001))}, 400,
         "over the limit of 1000"),
        ({k: v for k, v in GOOD.items() if k != "text"}, 400, "at least one of 'text'"),
        ({k: v for k, v in GOOD.items() if k != "to"}, 400, "to parameter is missing"),
        (GOOD | {"h:From": "x@evil.example"}, 400, "cannot be set"),
    ]
    for data, status, words in cases:
        answer = send_api(mailer, data)
        assert answer.status_code == status, (data, answer.text)
        assert words in answer.json()["message"]
    big = send_api(mailer, GOOD, files={"attachment": ("big.bin", b"x" * (26 * 1024 * 1024))})
    assert big.status_code == 413 and "25 MB" in big.json()["message"]
    assert queued(mailer) == 0


def test_api_refuses_bad_auth(mailer: Mailer) -> None:
    path = f"/v3/{DOMAIN}/messages"
    anon = mailer.client.post(path, data=GOOD, headers={"Authorization": ""})
    assert anon.status_code == 401 and "api:MAILGUN_API_KEY" in anon.json()["message"]
    wrong = mailer.client.post(path, data=GOOD, auth=("api", "key-wrong"))
    assert wrong.status_code == 401 and DOMAIN in wrong.json()["message"]
    other = mailer.client.post("/v3/other.test/messages", data=GOOD,
                               auth=("api", mailer.env["MAILGUN_API_KEY"]))
    assert other.status_code == 401
    assert queued(mailer) == 0


def smtp_client(mailer: Mailer) -> smtplib.SMTP:
    env = mailer.env
    return smtplib.SMTP(env["MAILGUN_SMTP_SERVER"], int(env["MAILGUN_SMTP_PORT"]))


def test_smtp_refusals(mailer: Mailer) -> None:
    env = mailer.env
    with smtp_client(mailer) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as bad:
            smtp.login(env["MAILGUN_SMTP_LOGIN"], "wrong")
        assert bad.value.smtp_code == 535
    with smtp_client(mailer) as smtp:  # no login: only the return path takes mail
        smtp.ehlo()
        smtp.mail(f"orders@{DOMAIN}")
        code, text = smtp.rcpt("ann@example.org")
        assert code == 530 and b"MAILGUN_SMTP_LOGIN" in text
    with smtp_client(mailer) as smtp:
        smtp.login(env["MAILGUN_SMTP_LOGIN"], env["MAILGUN_SMTP_PASSWORD"])
        code, text = smtp.mail("ceo@bank.example")
        assert code == 553 and DOMAIN.encode() in text
        smtp.rset()
        assert smtp.mail(f"orders@{DOMAIN}")[0] == 250
        for i in range(1000):
            assert smtp.rcpt(f"u{i}@example.org")[0] == 250
        code, text = smtp.rcpt("one-too-many@example.org")
        assert code == 452 and b"1000" in text
        smtp.rset()
        smtp.mail(f"orders@{DOMAIN}")
        smtp.rcpt("ann@example.org")
        code, text = smtp.data(b"From: ceo@bank.example\r\nSubject: x\r\n\r\nhi\r\n")
        assert code == 553 and b"outside" in text
        smtp.rset()
        smtp.mail(f"orders@{DOMAIN}")
        smtp.rcpt("ann@example.org")
        code, text = smtp.data(f"From: orders@{DOMAIN}\r\nFrom: ceo@bank.example\r\n"
                               "Subject: x\r\n\r\nhi\r\n".encode())
        assert code == 553 and b"bank.example" in text
    assert queued(mailer) == 0

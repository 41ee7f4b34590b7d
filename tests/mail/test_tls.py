"""With a certificate, the SMTP server offers STARTTLS and takes AUTH only over TLS; without
one, it refuses to listen anywhere but loopback (passwords would cross the network)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from pathlib import Path

import pytest

from roost.errors import ConfigError
from roost.mail.service import MailConfig, MailService
from tests.conftest import free_port, self_signed, wait_for
from tests.mail.conftest import DOMAIN, start_mailer
from tests.mail.servers import Sink


def self_signed_files(tmp: Path) -> tuple[str, str]:
    cert, key = self_signed("localhost")
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_text(cert)
    key_path.write_text(key)
    return str(cert_path), str(key_path)


def test_auth_only_after_starttls(tmp_path: Path, sink: Sink) -> None:
    cert, key = self_signed_files(tmp_path)
    run = start_mailer(f"sqlite:///{tmp_path / 'roost.db'}", tmp_path / "home", sink,
                       mail_tls_cert=cert, mail_tls_key=key)
    mailer = next(run)
    try:
        env = mailer.env
        with smtplib.SMTP(env["MAILGUN_SMTP_SERVER"], int(env["MAILGUN_SMTP_PORT"])) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls")
            code, _ = smtp.docmd("AUTH", "PLAIN AGFiYwBkZWY=")
            assert code == 538  # encryption required for requested authentication mechanism
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            smtp.starttls(context=context)
            smtp.login(env["MAILGUN_SMTP_LOGIN"], env["MAILGUN_SMTP_PASSWORD"])
            smtp.sendmail(f"orders@{DOMAIN}", ["ann@example.org"],
                          f"From: orders@{DOMAIN}\r\nSubject: tls\r\n\r\nhi\r\n".encode())
        wait_for(lambda: mailer.sink.to("ann@example.org"))
    finally:
        run.close()


def test_no_plain_passwords_off_loopback(engine: object, tmp_path: Path) -> None:
    from roost.core.secrets import Cipher, load_or_create_key
    from roost.store.session import make_sessionmaker

    service = MailService(make_sessionmaker(engine),  # type: ignore[arg-type]
                          Cipher(load_or_create_key(tmp_path)),
                          MailConfig(listen=f"0.0.0.0:{free_port()}"), lambda _url: None)
    with pytest.raises(ConfigError, match="ROOST_MAIL_TLS_CERT"):
        asyncio.run(service.start())

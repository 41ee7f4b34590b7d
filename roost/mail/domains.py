"""Sending domains: one per app, with hashed credentials and encrypted keys.

The API key and SMTP password are random tokens, so a SHA-256 of each is what the store
keeps (the add-on's encrypted state keeps the tokens themselves, for the config vars). The
DKIM private key and the webhook signing key are needed in clear to sign, so they are
stored encrypted with the platform's cipher.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from roost.core.secrets import Cipher
from roost.errors import Conflict, InvalidInput, NotFound
from roost.mail import dkim
from roost.store.base import utcnow
from roost.store.models.mail import MailDomain

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
BOUNCE_LABEL = "bounce"


@dataclass(frozen=True)
class Credentials:
    """The secrets an app gets for its domain (shown only through its config vars)."""

    domain: str
    api_key: str
    smtp_login: str
    smtp_password: str
    signing_key: str


@dataclass(frozen=True)
class Sender:
    """What the queue and the worker need to know about a sending domain."""

    app: str
    domain: str
    selector: str
    dkim_key: bytes
    signing_key: str
    webhook_url: str


class Lookups:
    """Credential look-ups remembered for ``ttl`` seconds, and forgotten at once when a
    sending domain changes in this process (``changed``): added, removed, its webhook set."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self.entries: dict[object, tuple[float, int, object]] = {}
        self.lock = threading.Lock()

    def get(self, key: object) -> tuple[bool, object]:
        """(True, value) when ``key`` was looked up recently, else (False, None)."""
        with self.lock:
            found = self.entries.get(key)
        if found is None or found[1] != _generation or time.monotonic() - found[0] > self.ttl:
            return False, None
        return True, found[2]

    def put(self, key: object, value: object, generation: int) -> None:
        """Remember ``value``, looked up while ``generation`` was current."""
        with self.lock:
            if len(self.entries) > 10_000:
                self.entries.clear()
            self.entries[key] = (time.monotonic(), generation, value)


_generation = 0


def generation() -> int:
    """Take this before a look-up and give it to ``Lookups.put``."""
    return _generation


def changed() -> None:
    """A sending domain was added, removed or changed (call after the commit)."""
    global _generation
    _generation += 1


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a credential is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_domain(domain: str) -> str:
    """``domain`` in lower case; refused when it is not a host name."""
    name = domain.strip().lower().rstrip(".")
    if not DOMAIN_RE.match(name):
        raise InvalidInput(f"{domain!r} is not a mail domain: give a name like "
                           "--option domain=mail.example.com")
    return name


def selector_for(when: datetime) -> str:
    """A DKIM selector naming when its key was made (``roost20261202a1b2``)."""
    return f"roost{when:%Y%m%d}{secrets.token_hex(2)}"


def create(session: Session, cipher: Cipher, app: str, domain: str) -> Credentials:
    """Register ``domain`` for ``app`` with fresh credentials and a DKIM key."""
    name = check_domain(domain)
    taken = session.scalar(select(MailDomain).where(
        (MailDomain.domain == name) | (MailDomain.app == app)))
    if taken is not None:
        raise Conflict(f"mail domain {name} or app {app} already has email (app {taken.app}, "
                       f"domain {taken.domain}); remove that add-on first")
    creds = Credentials(domain=name, api_key="key-" + secrets.token_hex(16),
                        smtp_login=f"postmaster@{name}", smtp_password=secrets.token_urlsafe(24),
                        signing_key=secrets.token_hex(16))
    now = utcnow()
    session.add(MailDomain(
        app=app, domain=name, api_key_hash=digest(creds.api_key), smtp_login=creds.smtp_login,
        smtp_password_hash=digest(creds.smtp_password), dkim_selector=selector_for(now),
        dkim_key_encrypted=cipher.encrypt(dkim.new_key().decode()),
        signing_key_encrypted=cipher.encrypt(creds.signing_key), created_at=now,
        rotated_at=now))
    return creds


def remove(session: Session, app: str) -> None:
    """Forget ``app``'s domain (queued mail to it fails: its keys are gone)."""
    session.execute(delete(MailDomain).where(MailDomain.app == app))


def row_of_app(session: Session, app: str) -> MailDomain:
    """``app``'s domain row; refused when the app has no email add-on."""
    row = session.scalar(select(MailDomain).where(MailDomain.app == app))
    if row is None:
        raise NotFound(f"{app} has no email: add it with "
                       f"`roost addons add {app} email --option domain=mail.example.com`")
    return row


def sender(cipher: Cipher, row: MailDomain) -> Sender:
    """The decrypted signing material of a domain row."""
    return Sender(app=row.app, domain=row.domain, selector=row.dkim_selector,
                  dkim_key=cipher.decrypt(row.dkim_key_encrypted).encode(),
                  signing_key=cipher.decrypt(row.signing_key_encrypted),
                  webhook_url=row.webhook_url)


def by_api_key(session: Session, domain: str, key: str) -> MailDomain | None:
    """The domain row when ``key`` is its API key (compared in constant time)."""
    row = session.scalar(select(MailDomain).where(MailDomain.domain == domain.lower()))
    if row is None or not hmac.compare_digest(row.api_key_hash, digest(key)):
        return None
    return row


def by_smtp_login(session: Session, login: str, password: str) -> MailDomain | None:
    """The domain row when ``login``/``password`` are its SMTP credentials."""
    row = session.scalar(select(MailDomain).where(MailDomain.smtp_login == login.lower()))
    if row is None or not hmac.compare_digest(row.smtp_password_hash, digest(password)):
        return None
    return row


def by_bounce_domain(session: Session, host: str) -> MailDomain | None:
    """The domain row whose return-path host is ``host`` (``bounce.DOMAIN``)."""
    label, _, domain = host.lower().partition(".")
    if label != BOUNCE_LABEL:
        return None
    return session.scalar(select(MailDomain).where(MailDomain.domain == domain))


def rotate_dkim(session: Session, cipher: Cipher, app: str) -> str:
    """Give ``app``'s domain a new DKIM key under a new selector; return the selector."""
    row = row_of_app(session, app)
    now = datetime.now(UTC)
    row.dkim_selector = selector_for(now)
    row.dkim_key_encrypted = cipher.encrypt(dkim.new_key().decode())
    row.rotated_at = now
    return row.dkim_selector


def return_path(sender_info: Sender, delivery_id: int) -> str:
    """The envelope sender of one delivery: bounces name the delivery, signed (VERP)."""
    tag = hmac.new(sender_info.signing_key.encode(), str(delivery_id).encode(),
                   hashlib.sha256).hexdigest()[:12]
    return f"b+{delivery_id}-{tag}@{BOUNCE_LABEL}.{sender_info.domain}"


def parse_return_path(local: str, signing_key: str) -> int | None:
    """The delivery id a bounce address names, when its tag is genuine."""
    body = local.lower().removeprefix("b+")
    ident, _, tag = body.partition("-")
    if body == local.lower() or not ident.isdigit():
        return None
    want = hmac.new(signing_key.encode(), ident.encode(), hashlib.sha256).hexdigest()[:12]
    return int(ident) if hmac.compare_digest(want, tag) else None


PLATFORM = "-platform"  # the app name of the platform's own mail (no app can be named so)


def ensure_platform(session: Session, cipher: Cipher, sender: str) -> None:
    """Make the domain of the platform's sender address a sending domain (once)."""
    name = check_domain(sender.rpartition("@")[2])
    row = session.scalar(select(MailDomain).where(MailDomain.app == PLATFORM))
    if row is not None and row.domain == name:
        return
    if row is not None:
        session.delete(row)
        session.flush()
    create(session, cipher, PLATFORM, name)

"""Email: sending domains, the durable queue (messages and per-recipient deliveries), events,
suppressions and webhooks.

A message is committed here before the SMTP server or the HTTP API answers, so nothing
accepted is lost; each recipient's delivery is a row claimed by the delivery worker with a
lease, like the notification outbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class MailDomain(Base):
    """An app's sending domain: its credentials (hashed), DKIM key and webhook signing key."""

    __tablename__ = "mail_domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(100), unique=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    api_key_hash: Mapped[str] = mapped_column(String(64))
    smtp_login: Mapped[str] = mapped_column(String(320), unique=True)
    smtp_password_hash: Mapped[str] = mapped_column(String(64))
    dkim_selector: Mapped[str] = mapped_column(String(63))
    dkim_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    signing_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    webhook_url: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailMessage(Base):
    """One accepted message: its envelope, its MIME text and what came with it."""

    __tablename__ = "mail_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(100), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    message_id: Mapped[str] = mapped_column(String(300), index=True)
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10))  # smtp | api | platform
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    testmode: Mapped[bool] = mapped_column(Boolean, default=False)
    # The DKIM-Signature header the first delivery attempt added, kept for the inbox view.
    dkim_header: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailDelivery(Base):
    """One recipient of one message, with its delivery state and lease."""

    __tablename__ = "mail_deliveries"
    __table_args__ = (Index("ix_mail_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("mail_messages.id", ondelete="CASCADE"),
                                            index=True)
    app: Mapped[str] = mapped_column(String(100), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    # queued | sending | delivered | captured | failed
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MailEvent(Base):
    """Something that happened to a message for one recipient, and its webhook delivery."""

    __tablename__ = "mail_events"
    __table_args__ = (Index("ix_mail_events_hook_due", "hook_status", "hook_next_at"),
                      Index("ix_mail_events_app_time", "app", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    app: Mapped[str] = mapped_column(String(100))
    message_pk: Mapped[int | None] = mapped_column(
        ForeignKey("mail_messages.id", ondelete="CASCADE"), nullable=True, index=True)
    # accepted | delivered | failed | bounced | complained | unsubscribed | captured
    event: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10), default="")  # temporary | permanent
    recipient: Mapped[str] = mapped_column(String(320), default="")
    reason: Mapped[str] = mapped_column(String(40), default="")
    code: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Webhook delivery: none (no URL or not an event apps hear of) | pending | sent | stopped
    hook_status: Mapped[str] = mapped_column(String(10), default="none")
    hook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    hook_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hook_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hook_error: Mapped[str] = mapped_column(Text, default="")


class MailSuppression(Base):
    """An address a domain no longer sends to (a hard bounce or a complaint)."""

    __tablename__ = "mail_suppressions"
    __table_args__ = (UniqueConstraint("domain", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(100), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    address: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(20))  # bounce | complaint | unsubscribe
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

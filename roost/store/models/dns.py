"""DNS as code: managed zones, their records, and apps' custom domains."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class DnsZone(Base):
    """A zone Roost manages at a provider (Route53, PowerDNS) through octoDNS."""

    __tablename__ = "dns_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)  # "example.com", no dot
    provider: Mapped[str] = mapped_column(String(20))  # route53 | powerdns
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # non-secret options
    secrets: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # Fernet, JSON
    # octoDNS's safety thresholds for this zone (fractions of the existing records).
    update_threshold: Mapped[float] = mapped_column(Float, default=0.3)
    delete_threshold: Mapped[float] = mapped_column(Float, default=0.3)
    app: Mapped[str] = mapped_column(String(100), default="")  # whose maintainers hear drift
    # The records as last applied (octoDNS data by "name TYPE"): the drift check's reference.
    applied: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    drift: Mapped[str] = mapped_column(Text, default="")  # the last drift found, as text
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DnsRecord(Base):
    """One record set (name + type) of a managed zone, as octoDNS data."""

    __tablename__ = "dns_records"
    __table_args__ = (UniqueConstraint("zone_id", "name", "type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("dns_zones.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(String(253))  # "" is the apex
    type: Mapped[str] = mapped_column(String(40))  # Route53Provider/ALIAS: 21
    ttl: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"value": …} or {"values": […]}
    owner: Mapped[str] = mapped_column(String(120), default="user")  # user | domain:APP | …
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomDomain(Base):
    """A host name an app answers to, with the state of its DNS record and certificate."""

    __tablename__ = "custom_domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(100), index=True)
    hostname: Mapped[str] = mapped_column(String(253), unique=True)
    zone: Mapped[str] = mapped_column(String(253), default="")  # "" when Roost manages no zone
    record_type: Mapped[str] = mapped_column(String(40), default="")
    # dns: unmanaged | pending | live | failed
    dns_state: Mapped[str] = mapped_column(String(12), default="unmanaged")
    message: Mapped[str] = mapped_column(Text, default="")
    monitor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    live_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

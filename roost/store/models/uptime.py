"""Uptime monitoring tables: monitors, check results, hourly rollups, incidents, probes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow


class Monitor(Base):
    """One uptime check of an app (HTTP, TCP or TLS expiry) and its live state."""

    __tablename__ = "uptime_monitors"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_name: Mapped[str] = mapped_column(String(100), index=True)
    # What the public status page calls it; empty: a name derived from the target's host.
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    kind: Mapped[str] = mapped_column(String(8))  # http | tcp | tls
    target: Mapped[str] = mapped_column(String(2000))
    method: Mapped[str] = mapped_column(String(10), default="GET")
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    expected_status: Mapped[list[int]] = mapped_column(JSON, default=list)
    max_response_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body_contains: Mapped[str | None] = mapped_column(String(500), nullable=True)
    body_regex: Mapped[str | None] = mapped_column(String(500), nullable=True)
    follow_redirects: Mapped[bool] = mapped_column(Boolean, default=True)
    verify_tls: Mapped[bool] = mapped_column(Boolean, default=True)
    tls_warn_days: Mapped[int] = mapped_column(Integer, default=14)
    interval_s: Mapped[float] = mapped_column(Float, default=30.0)
    timeout_s: Mapped[float] = mapped_column(Float, default=10.0)
    confirm_failures: Mapped[int] = mapped_column(Integer, default=2)
    confirm_successes: Mapped[int] = mapped_column(Integer, default=2)
    owner: Mapped[str] = mapped_column(String(10), default="user")  # user | app
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Live state, written by the engine on every batch of results.
    state: Mapped[str] = mapped_column(String(8), default="unknown")  # unknown | up | down
    state_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fail_streak: Mapped[int] = mapped_column(Integer, default=0)
    ok_streak: Mapped[int] = mapped_column(Integer, default=0)
    first_fail_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    history: Mapped[str] = mapped_column(String(32), default="")  # last outcomes, u/d
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    last_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verify_probe: Mapped[str | None] = mapped_column(String(100), nullable=True)
    verify_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CheckResult(Base):
    """One check's outcome; raw rows are kept for a short while, rollups for long."""

    __tablename__ = "uptime_results"
    __table_args__ = (Index("ix_uptime_results_monitor_at", "monitor_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("uptime_monitors.id", ondelete="CASCADE"), index=False
    )
    probe: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)


class UptimeHourly(Base):
    """Checks and failures of one monitor in one UTC hour, for 90-day uptime figures."""

    __tablename__ = "uptime_hourly"

    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("uptime_monitors.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)


class Incident(Base):
    """One outage of a monitor, from the first failed check to recovery."""

    __tablename__ = "uptime_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("uptime_monitors.id", ondelete="CASCADE"), index=True
    )
    app_name: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    cause: Mapped[str] = mapped_column(String(300), default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    probes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # unconfirmed: seen failing from one location only; nobody is paged for it.
    note: Mapped[str] = mapped_column(Text, default="")
    paged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recovery_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)


class FlapEpisode(Base):
    """A stretch of time in which a monitor flapped; announced once."""

    __tablename__ = "uptime_flaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("uptime_monitors.id", ondelete="CASCADE"), index=True
    )
    app_name: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    change_percent: Mapped[float] = mapped_column(Float)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)


class Maintenance(Base):
    """A window during which an app's outages are recorded but page nobody."""

    __tablename__ = "uptime_maintenance"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_name: Mapped[str] = mapped_column(String(100), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")


class Probe(Base):
    """A checking location: the control plane's own (``local``) or a remote ``roost probe``."""

    __tablename__ = "uptime_probes"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

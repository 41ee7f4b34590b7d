"""Performance monitoring tables: endpoint latency buckets, breakdowns, samples, findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from roost.store.base import Base, UTCDateTime, utcnow

# Resolutions of a bucket, in seconds: minutes for two days, hours and days for thirty.
MINUTE = 60
HOUR = 3600
DAY = 86400


class PerfBucket(Base):
    """Requests to one endpoint in one minute or hour: counts, total time and a DDSketch."""

    __tablename__ = "perf_buckets"
    __table_args__ = (
        UniqueConstraint("app", "endpoint", "period", "start", name="uq_perf_buckets_key"),
        Index("ix_perf_buckets_app_period_start", "app", "period", "start"),
        Index("ix_perf_buckets_app_period_rolled_start", "app", "period", "rolled", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(30))
    endpoint: Mapped[str] = mapped_column(String(300))
    period: Mapped[int] = mapped_column(Integer)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    total_ms: Mapped[float] = mapped_column(Float, default=0.0)
    sketch: Mapped[bytes] = mapped_column(LargeBinary)
    # Already merged into its parent (a minute into its hour, an hour into its day); a
    # range that covers the whole parent reads the parent instead.
    rolled: Mapped[bool] = mapped_column(Boolean, default=False)


class PerfBreakdown(Base):
    """Time spent in one kind of span (its fingerprint) by requests to one endpoint."""

    __tablename__ = "perf_breakdowns"
    __table_args__ = (
        UniqueConstraint(
            "app", "endpoint", "period", "start", "fingerprint", name="uq_perf_breakdowns_key"
        ),
        Index("ix_perf_breakdowns_app_endpoint_start", "app", "endpoint", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(30))
    endpoint: Mapped[str] = mapped_column(String(300))
    period: Mapped[int] = mapped_column(Integer)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    fingerprint: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(1000))
    count: Mapped[int] = mapped_column(Integer, default=0)
    total_ms: Mapped[float] = mapped_column(Float, default=0.0)
    self_ms: Mapped[float] = mapped_column(Float, default=0.0)
    rolled: Mapped[bool] = mapped_column(Boolean, default=False)


class PerfSample(Base):
    """One whole trace kept as an example of an endpoint in one hour."""

    __tablename__ = "perf_samples"
    __table_args__ = (Index("ix_perf_samples_app_endpoint_hour", "app", "endpoint", "hour"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(30))
    endpoint: Mapped[str] = mapped_column(String(300))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    trace_id: Mapped[str] = mapped_column(String(32), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(10))  # "slowest" or "random"
    spans: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class PerfFinding(Base):
    """Something worth telling maintainers: an N+1, a slow query, a deploy regression."""

    __tablename__ = "perf_findings"
    __table_args__ = (
        UniqueConstraint("app", "kind", "endpoint", "key", name="uq_perf_findings_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(30), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    endpoint: Mapped[str] = mapped_column(String(300))
    # The query fingerprint (N+1, slow query) or the release (regression).
    key: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(2000))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PerfDeploy(Base):
    """A deploy marker: release ``release`` of ``app`` went live at ``at``."""

    __tablename__ = "perf_deploys"
    __table_args__ = (UniqueConstraint("app", "release", name="uq_perf_deploys_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(30), index=True)
    release: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once the regression check has seen enough traffic to decide.
    checked: Mapped[bool] = mapped_column(Boolean, default=False)

"""Read side of performance monitoring: endpoint tables, endpoint detail, traces, findings."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.errors import NotFound
from roost.monitor.perf import sketch as sk
from roost.monitor.perf.cover import covering, hourly
from roost.monitor.perf.regress import deploys
from roost.monitor.perf.rollup import floor
from roost.store.base import utcnow
from roost.store.models.perf import (
    HOUR,
    MINUTE,
    PerfBreakdown,
    PerfBucket,
    PerfFinding,
    PerfSample,
)


class EndpointStats(BaseModel):
    """One line of the endpoint table."""

    endpoint: str
    requests: int
    rpm: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    error_rate: float
    impact: float  # requests × p95 in seconds: Roost's "agony"
    n_plus_one: bool = False
    slow_query: bool = False
    regressed_in: str | None = None


class BreakdownItem(BaseModel):
    """What a typical request to an endpoint spends on one kind of span."""

    category: str
    label: str
    fingerprint: str
    calls_per_request: float
    ms_per_request: float
    self_ms_per_request: float


class SeriesPoint(BaseModel):
    """Latency of an endpoint in one minute (or hour, for older ranges)."""

    start: datetime
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


class DeployMarker(BaseModel):
    """A release going live."""

    release: str
    at: datetime


class FindingInfo(BaseModel):
    """A recorded finding."""

    kind: str
    endpoint: str
    key: str
    summary: str
    occurrences: int
    first_seen: datetime
    last_seen: datetime
    detail: dict[str, Any]


class SampleTrace(BaseModel):
    """A kept trace; ``spans`` is empty in lists and filled by :func:`trace`."""

    trace_id: str
    endpoint: str
    started_at: datetime
    duration_ms: float
    reason: str
    spans: list[dict[str, Any]] = []


class EndpointDetail(BaseModel):
    """Everything the endpoint page shows."""

    stats: EndpointStats
    categories: dict[str, float]  # self ms per request by category
    breakdown: list[BreakdownItem]
    samples: list[SampleTrace]
    series: list[SeriesPoint]
    deploys: list[DeployMarker]
    findings: list[FindingInfo]


# Ranges longer than this are charted by the hour (a week: 168 points, not 10,080).
HOURLY_SERIES = timedelta(hours=36)
_COLUMNS = (PerfBucket.endpoint, PerfBucket.period, PerfBucket.start, PerfBucket.count,
            PerfBucket.errors, PerfBucket.total_ms, PerfBucket.sketch)


def _buckets(session: Session, app: str, *where: Any) -> list[Any]:
    """Bucket rows as plain tuples (no ORM objects: a week of an app is thousands of rows)."""
    return list(session.execute(select(*_COLUMNS).where(PerfBucket.app == app, *where)))


def _stats(endpoint: str, rows: list[Any], minutes: float) -> EndpointStats:
    p50, p95, p99 = sk.quantiles_encoded((row.sketch for row in rows), (0.5, 0.95, 0.99))
    count = errors = 0
    total = 0.0
    for row in rows:
        count += row.count
        errors += row.errors
        total += row.total_ms
    return EndpointStats(
        endpoint=endpoint, requests=count, rpm=round(count / max(minutes, 1.0), 3),
        p50_ms=round(p50, 3), p95_ms=round(p95, 3), p99_ms=round(p99, 3),
        mean_ms=round(total / count, 3) if count else 0.0,
        error_rate=round(errors / count, 4) if count else 0.0,
        impact=round(count * p95 / 1000.0, 3),
    )


def _flag(session: Session, app: str, since: datetime, stats: dict[str, EndpointStats]) -> None:
    rows = session.scalars(select(PerfFinding).where(
        PerfFinding.app == app, PerfFinding.last_seen >= since))
    for f in rows:
        line = stats.get(f.endpoint)
        if line is None:
            continue
        if f.kind == "n_plus_one":
            line.n_plus_one = True
        elif f.kind == "slow_query":
            line.slow_query = True
        elif f.kind == "regression":
            line.regressed_in = f.key


def endpoint_table(session: Session, app: str, since: datetime,
                   now: datetime | None = None) -> list[EndpointStats]:
    """Every endpoint of ``app`` with traffic since ``since``, most impact first."""
    now = now or utcnow()
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in _buckets(session, app, covering(PerfBucket, since, now)):
        grouped[row.endpoint].append(row)
    minutes = (now - since).total_seconds() / 60.0
    stats = {e: _stats(e, rows, minutes) for e, rows in grouped.items()}
    _flag(session, app, since, stats)
    return sorted(stats.values(), key=lambda s: (-s.impact, s.endpoint))


def _point(start: datetime, rows: list[Any]) -> SeriesPoint:
    p50, p95, p99 = sk.quantiles_encoded((row.sketch for row in rows), (0.5, 0.95, 0.99))
    return SeriesPoint(
        start=start, requests=sum(r.count for r in rows), errors=sum(r.errors for r in rows),
        p50_ms=round(p50, 3), p95_ms=round(p95, 3), p99_ms=round(p99, 3))


def _series(rows: list[Any]) -> list[SeriesPoint]:
    by_start: dict[datetime, list[Any]] = defaultdict(list)
    covered = {floor(r.start, HOUR) for r in rows if r.period == MINUTE}
    for row in rows:
        # Prefer minutes; an hour stands in only where its minutes are gone.
        if row.period == HOUR and row.start in covered:
            continue
        by_start[row.start].append(row)
    return [_point(start, by_start[start]) for start in sorted(by_start)]


def _hourly_series(rows: list[Any]) -> list[SeriesPoint]:
    # Hours hold their rolled minutes; the minutes read with them are the ones not rolled yet.
    by_hour: dict[datetime, list[Any]] = defaultdict(list)
    for row in rows:
        by_hour[floor(row.start, HOUR)].append(row)
    return [_point(start, by_hour[start]) for start in sorted(by_hour)]


def _series_for(session: Session, app: str, endpoint: str, since: datetime,
                now: datetime) -> list[SeriesPoint]:
    if now - since > HOURLY_SERIES:
        return _hourly_series(_buckets(session, app, PerfBucket.endpoint == endpoint,
                                       hourly(PerfBucket, since)))
    return _series(_buckets(session, app, PerfBucket.endpoint == endpoint,
                            PerfBucket.period.in_((MINUTE, HOUR)), PerfBucket.start >= since))


def endpoint_detail(session: Session, app: str, endpoint: str, since: datetime,
                    now: datetime | None = None) -> EndpointDetail:
    """Breakdown, sample traces, latency series, deploys and findings of one endpoint."""
    now = now or utcnow()
    counted = _buckets(session, app, PerfBucket.endpoint == endpoint,
                       covering(PerfBucket, since, now))
    if not counted:
        raise NotFound(f"no requests to {endpoint!r} of app {app!r} since {since:%Y-%m-%d %H:%M}")
    stats = _stats(endpoint, counted, (now - since).total_seconds() / 60.0)
    _flag(session, app, since, {endpoint: stats})

    sums: dict[str, list[Any]] = {}
    pieces = session.scalars(select(PerfBreakdown).where(
        PerfBreakdown.app == app, PerfBreakdown.endpoint == endpoint,
        covering(PerfBreakdown, since, now)))
    for p in pieces:
        acc = sums.setdefault(p.fingerprint, [p.category, p.label, 0, 0.0, 0.0])
        acc[2] += p.count
        acc[3] += p.total_ms
        acc[4] += p.self_ms
    n = max(stats.requests, 1)
    breakdown = sorted(
        (BreakdownItem(category=c, label=label, fingerprint=fp,
                       calls_per_request=round(cnt / n, 3), ms_per_request=round(tot / n, 3),
                       self_ms_per_request=round(own / n, 3))
         for fp, (c, label, cnt, tot, own) in sums.items()),
        key=lambda b: -b.self_ms_per_request)
    categories: dict[str, float] = defaultdict(float)
    for item in breakdown:
        categories[item.category] += item.self_ms_per_request

    samples = [
        SampleTrace(trace_id=s.trace_id, endpoint=s.endpoint, started_at=s.started_at,
                    duration_ms=s.duration_ms, reason=s.reason)
        for s in session.scalars(select(PerfSample).where(
            PerfSample.app == app, PerfSample.endpoint == endpoint,
            PerfSample.hour >= since.replace(minute=0, second=0, microsecond=0))
            .order_by(PerfSample.duration_ms.desc()).limit(50))
    ]
    return EndpointDetail(
        stats=stats, categories={k: round(v, 3) for k, v in categories.items()},
        breakdown=breakdown, samples=samples,
        series=_series_for(session, app, endpoint, since, now),
        deploys=[DeployMarker(release=d.release, at=d.at) for d in deploys(session, app, since)],
        findings=[f for f in findings(session, app, since) if f.endpoint == endpoint],
    )


def trace(session: Session, app: str, trace_id: str) -> SampleTrace:
    """A kept sample trace with all its spans, for the timeline view."""
    row = session.scalars(select(PerfSample).where(
        PerfSample.app == app, PerfSample.trace_id == trace_id.lower())).first()
    if row is None:
        raise NotFound(f"trace {trace_id} of app {app!r} was not kept as a sample")
    return SampleTrace(trace_id=row.trace_id, endpoint=row.endpoint, started_at=row.started_at,
                       duration_ms=row.duration_ms, reason=row.reason, spans=row.spans)


def findings(session: Session, app: str, since: datetime | None = None) -> list[FindingInfo]:
    """Findings of ``app`` seen since ``since`` (all when omitted), newest first."""
    stmt = select(PerfFinding).where(PerfFinding.app == app)
    if since is not None:
        stmt = stmt.where(PerfFinding.last_seen >= since)
    return [
        FindingInfo(kind=f.kind, endpoint=f.endpoint, key=f.key, summary=f.summary,
                    occurrences=f.occurrences, first_seen=f.first_seen, last_seen=f.last_seen,
                    detail=f.detail)
        for f in session.scalars(stmt.order_by(PerfFinding.last_seen.desc()))
    ]

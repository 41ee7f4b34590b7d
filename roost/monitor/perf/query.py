"""Read side of performance monitoring: endpoint tables, endpoint detail, traces, findings."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from roost.errors import NotFound
from roost.monitor.perf import sketch as sk
from roost.monitor.perf.regress import deploys
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


def _bucket_filter(since: datetime) -> Any:
    # Unrolled minutes plus hours: every request is in exactly one of the two.
    return or_(
        and_(PerfBucket.period == MINUTE, PerfBucket.rolled.is_(False),
             PerfBucket.start >= since.replace(second=0, microsecond=0)),
        and_(PerfBucket.period == HOUR,
             PerfBucket.start >= since.replace(minute=0, second=0, microsecond=0)),
    )


def _stats(endpoint: str, rows: list[PerfBucket], minutes: float) -> EndpointStats:
    merged = sk.merge_encoded(row.sketch for row in rows)
    count = errors = 0
    total = 0.0
    for row in rows:
        count += row.count
        errors += row.errors
        total += row.total_ms
    p95 = sk.quantile(merged, 0.95)
    return EndpointStats(
        endpoint=endpoint, requests=count, rpm=round(count / max(minutes, 1.0), 3),
        p50_ms=round(sk.quantile(merged, 0.5), 3), p95_ms=round(p95, 3),
        p99_ms=round(sk.quantile(merged, 0.99), 3),
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
    grouped: dict[str, list[PerfBucket]] = defaultdict(list)
    for row in session.scalars(select(PerfBucket).where(PerfBucket.app == app,
                                                        _bucket_filter(since))):
        grouped[row.endpoint].append(row)
    minutes = (now - since).total_seconds() / 60.0
    stats = {e: _stats(e, rows, minutes) for e, rows in grouped.items()}
    _flag(session, app, since, stats)
    return sorted(stats.values(), key=lambda s: (-s.impact, s.endpoint))


def _series(rows: list[PerfBucket]) -> list[SeriesPoint]:
    by_start: dict[datetime, list[PerfBucket]] = defaultdict(list)
    minutes = {r.start for r in rows if r.period == MINUTE}
    for row in rows:
        # Prefer minutes; an hour stands in only where its minutes are gone.
        if row.period == HOUR and any(row.start <= m < row.start + timedelta(hours=1)
                                      for m in minutes):
            continue
        by_start[row.start].append(row)
    points = []
    for start in sorted(by_start):
        merged = sk.merge_encoded(row.sketch for row in by_start[start])
        points.append(SeriesPoint(
            start=start, requests=sum(r.count for r in by_start[start]),
            errors=sum(r.errors for r in by_start[start]),
            p50_ms=round(sk.quantile(merged, 0.5), 3), p95_ms=round(sk.quantile(merged, 0.95), 3),
            p99_ms=round(sk.quantile(merged, 0.99), 3)))
    return points


def endpoint_detail(session: Session, app: str, endpoint: str, since: datetime,
                    now: datetime | None = None) -> EndpointDetail:
    """Breakdown, sample traces, latency series, deploys and findings of one endpoint."""
    now = now or utcnow()
    base = select(PerfBucket).where(PerfBucket.app == app, PerfBucket.endpoint == endpoint)
    counted = list(session.scalars(base.where(_bucket_filter(since))))
    if not counted:
        raise NotFound(f"no requests to {endpoint!r} of app {app!r} since {since:%Y-%m-%d %H:%M}")
    stats = _stats(endpoint, counted, (now - since).total_seconds() / 60.0)
    _flag(session, app, since, {endpoint: stats})
    series_rows = list(session.scalars(base.where(PerfBucket.start >= since)))

    sums: dict[str, list[Any]] = {}
    pieces = session.scalars(select(PerfBreakdown).where(
        PerfBreakdown.app == app, PerfBreakdown.endpoint == endpoint,
        or_(and_(PerfBreakdown.period == MINUTE, PerfBreakdown.rolled.is_(False),
                 PerfBreakdown.start >= since.replace(second=0, microsecond=0)),
            and_(PerfBreakdown.period == HOUR,
                 PerfBreakdown.start >= since.replace(minute=0, second=0, microsecond=0)))))
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
        breakdown=breakdown, samples=samples, series=_series(series_rows),
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

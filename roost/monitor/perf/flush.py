"""Writing an aggregator snapshot to the store: merge buckets, keep samples, record findings."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from roost.monitor.perf import sketch as sk
from roost.monitor.perf.aggregator import SampleSlot, Snapshot
from roost.monitor.perf.rollup import propagate
from roost.monitor.perf.traces import Request
from roost.store.base import utcnow
from roost.store.models.perf import MINUTE, PerfBreakdown, PerfBucket, PerfFinding, PerfSample

MAX_SAMPLE_SPANS = 1000


@dataclass(frozen=True)
class Finding:
    """A performance finding to tell an app's maintainers about."""

    app: str
    kind: str  # "n_plus_one", "slow_query" or "regression"
    endpoint: str
    key: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _insert_missing(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert rows whose unique key is absent; concurrent writers cannot collide."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for i in range(0, len(rows), 500):
        session.execute(insert(model).values(rows[i : i + 500]).on_conflict_do_nothing())


def _locked(session: Session, stmt: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        # id order, as the roll-up locks them, so the two never wait on each other in a cycle
        stmt = stmt.order_by(stmt.column_descriptions[0]["entity"].id).with_for_update()
    return session.scalars(stmt)


def _write_buckets(session: Session, snap: Snapshot) -> None:
    by_app: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for app, endpoint, minute in snap.buckets:
        by_app[app].append((endpoint, minute))
    empty = sk.encode(sk.new_sketch())
    late: list[PerfBucket | PerfBreakdown] = []
    for app, keys in by_app.items():
        _insert_missing(session, PerfBucket, [
            {"app": app, "endpoint": e, "period": MINUTE, "start": _at(m), "count": 0,
             "errors": 0, "total_ms": 0.0, "sketch": empty, "rolled": False}
            for e, m in keys
        ])
        for i in range(0, len(keys), 400):
            chunk = keys[i : i + 400]
            stmt = select(PerfBucket).where(
                PerfBucket.app == app,
                PerfBucket.period == MINUTE,
                tuple_(PerfBucket.endpoint, PerfBucket.start).in_(
                    [(e, _at(m)) for e, m in chunk]
                ),
            )
            for row in _locked(session, stmt):
                bucket = snap.buckets[(app, row.endpoint, int(row.start.timestamp()))]
                merged = sk.decode(row.sketch)
                merged.merge(bucket.sketch)
                row.sketch = sk.encode(merged)
                row.count += bucket.count
                row.errors += bucket.errors
                row.total_ms += bucket.total_ms
                if row.rolled:  # late data: its hour (and day) already hold the rest
                    late.append(PerfBucket(
                        app=app, endpoint=row.endpoint, period=MINUTE, start=row.start,
                        count=bucket.count, errors=bucket.errors, total_ms=bucket.total_ms,
                        sketch=sk.encode(bucket.sketch)))
    propagate(session, PerfBucket, late, MINUTE)


def _write_pieces(session: Session, snap: Snapshot) -> None:
    by_app: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for app, endpoint, minute, fp in snap.pieces:
        by_app[app].append((endpoint, minute, fp))
    late: list[PerfBucket | PerfBreakdown] = []
    for app, keys in by_app.items():
        rows = []
        for e, m, fp in keys:
            category, label = snap.pieces[(app, e, m, fp)][:2]
            rows.append({"app": app, "endpoint": e, "period": MINUTE, "start": _at(m),
                         "fingerprint": fp, "category": category, "label": label, "count": 0,
                         "total_ms": 0.0, "self_ms": 0.0, "rolled": False})
        _insert_missing(session, PerfBreakdown, rows)
        for i in range(0, len(keys), 300):
            chunk = keys[i : i + 300]
            stmt = select(PerfBreakdown).where(
                PerfBreakdown.app == app,
                PerfBreakdown.period == MINUTE,
                tuple_(PerfBreakdown.endpoint, PerfBreakdown.start, PerfBreakdown.fingerprint)
                .in_([(e, _at(m), fp) for e, m, fp in chunk]),
            )
            for row in _locked(session, stmt):
                piece = snap.pieces[(app, row.endpoint, int(row.start.timestamp()),
                                     row.fingerprint)]
                row.count += piece[2]
                row.total_ms += piece[3]
                row.self_ms += piece[4]
                if row.rolled:
                    late.append(PerfBreakdown(
                        app=app, endpoint=row.endpoint, period=MINUTE, start=row.start,
                        fingerprint=row.fingerprint, category=row.category, label=row.label,
                        count=piece[2], total_ms=piece[3], self_ms=piece[4]))
    propagate(session, PerfBreakdown, late, MINUTE)


def sample_spans(request: Request) -> list[dict[str, Any]]:
    """The spans of a request as stored in a sample (at most MAX_SAMPLE_SPANS)."""
    return [s.to_json() for s in request.spans[:MAX_SAMPLE_SPANS]]


def _sample_row(app: str, endpoint: str, hour: int, request: Request, reason: str) -> PerfSample:
    return PerfSample(
        app=app, endpoint=endpoint, hour=_at(hour), trace_id=request.root.trace_id.hex(),
        started_at=datetime.fromtimestamp(request.root.start / 1e9, UTC),
        duration_ms=request.duration_ms, reason=reason, spans=sample_spans(request),
    )


def _write_samples(session: Session, snap: Snapshot, keep_random: int) -> None:
    for (app, endpoint, hour), slot in snap.samples.items():
        _write_slot(session, app, endpoint, hour, slot, keep_random, snap.seen)


def _write_slot(session: Session, app: str, endpoint: str, hour: int, slot: SampleSlot,
                keep_random: int, seen: dict[tuple[str, str, int], int]) -> None:
    stored = list(session.scalars(select(PerfSample).where(
        PerfSample.app == app, PerfSample.endpoint == endpoint, PerfSample.hour == _at(hour))))
    slowest = next((s for s in stored if s.reason == "slowest"), None)
    if slot.slowest is not None and (
        slowest is None or slot.slowest.duration_ms > slowest.duration_ms
    ):
        if slowest is not None:
            session.delete(slowest)
        session.add(_sample_row(app, endpoint, hour, slot.slowest, "slowest"))
    randoms = [s for s in stored if s.reason == "random"]
    taken = {s.trace_id for s in stored}
    if slot.slowest is not None:
        taken.add(slot.slowest.root.trace_id.hex())
    for request in slot.randoms:
        if request.root.trace_id.hex() in taken:
            continue
        if len(randoms) >= keep_random:
            # The in-memory reservoir already chose this request with probability k/seen.
            victim = randoms.pop(0)
            session.delete(victim)
        row = _sample_row(app, endpoint, hour, request, "random")
        session.add(row)
        randoms.append(row)


def _write_hits(session: Session, snap: Snapshot) -> list[Finding]:
    new: list[Finding] = []
    now = utcnow()
    for (app, kind, endpoint, fp), hit in snap.hits.items():
        row = session.scalars(select(PerfFinding).where(
            PerfFinding.app == app, PerfFinding.kind == kind,
            PerfFinding.endpoint == endpoint, PerfFinding.key == fp)).first()
        if row is None:
            session.add(PerfFinding(app=app, kind=kind, endpoint=endpoint, key=fp,
                                    summary=hit.summary, detail=hit.detail,
                                    occurrences=hit.occurrences, first_seen=now, last_seen=now))
            new.append(Finding(app, kind, endpoint, fp, hit.summary, dict(hit.detail)))
        else:
            row.occurrences += hit.occurrences
            row.last_seen = now
            row.detail = hit.detail
            row.summary = hit.summary
    return new


def write_snapshot(session: Session, snap: Snapshot, keep_random: int = 3) -> list[Finding]:
    """Merge ``snap`` into the store; return findings seen for the first time."""
    _write_buckets(session, snap)
    _write_pieces(session, snap)
    _write_samples(session, snap, keep_random)
    session.flush()
    return _write_hits(session, snap)


def known_endpoints(session: Session, app: str) -> set[str]:
    """Endpoints of ``app`` present in the store, to apply the per-app cap across restarts."""
    return set(session.scalars(select(PerfBucket.endpoint).where(PerfBucket.app == app)
                               .distinct()))


def delete_samples_before(session: Session, cutoff: datetime) -> int:
    """Remove sample traces of hours before ``cutoff``."""
    result = session.execute(delete(PerfSample).where(and_(PerfSample.hour < cutoff)))
    return int(getattr(result, "rowcount", 0) or 0)

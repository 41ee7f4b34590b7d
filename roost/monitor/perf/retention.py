"""Rolling minute buckets up into hours and pruning what is past its retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from roost.monitor.perf import sketch as sk
from roost.monitor.perf.flush import delete_samples_before
from roost.store.models.perf import HOUR, MINUTE, PerfBreakdown, PerfBucket, PerfDeploy

ROLLUP_AFTER = timedelta(days=1)
KEEP_MINUTES = timedelta(days=2)
KEEP_HOURS = timedelta(days=30)
KEEP_SAMPLES = timedelta(days=7)
KEEP_DEPLOYS = timedelta(days=90)


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def rollup(session: Session, now: datetime) -> int:
    """Merge minute buckets of whole hours older than a day into hour buckets; return rows."""
    cutoff = _hour(now - ROLLUP_AFTER)
    minutes = list(session.scalars(select(PerfBucket).where(
        PerfBucket.period == MINUTE, PerfBucket.rolled.is_(False), PerfBucket.start < cutoff)))
    groups: dict[tuple[str, str, datetime], list[PerfBucket]] = {}
    for row in minutes:
        groups.setdefault((row.app, row.endpoint, _hour(row.start)), []).append(row)
    for (app, endpoint, hour), rows in groups.items():
        target = session.scalars(select(PerfBucket).where(
            PerfBucket.app == app, PerfBucket.endpoint == endpoint,
            PerfBucket.period == HOUR, PerfBucket.start == hour)).first()
        if target is None:
            target = PerfBucket(app=app, endpoint=endpoint, period=HOUR, start=hour, count=0,
                                errors=0, total_ms=0.0, sketch=sk.encode(sk.new_sketch()),
                                rolled=False)
            session.add(target)
        merged = sk.decode(target.sketch)
        for row in rows:
            merged.merge(sk.decode(row.sketch))
            target.count += row.count
            target.errors += row.errors
            target.total_ms += row.total_ms
            row.rolled = True
        target.sketch = sk.encode(merged)

    pieces = list(session.scalars(select(PerfBreakdown).where(
        PerfBreakdown.period == MINUTE, PerfBreakdown.rolled.is_(False),
        PerfBreakdown.start < cutoff)))
    sums: dict[tuple[str, str, datetime, str], list[PerfBreakdown]] = {}
    for piece in pieces:
        sums.setdefault((piece.app, piece.endpoint, _hour(piece.start), piece.fingerprint),
                        []).append(piece)
    for (app, endpoint, hour, fp), parts in sums.items():
        hp = session.scalars(select(PerfBreakdown).where(
            PerfBreakdown.app == app, PerfBreakdown.endpoint == endpoint,
            PerfBreakdown.period == HOUR, PerfBreakdown.start == hour,
            PerfBreakdown.fingerprint == fp)).first()
        if hp is None:
            hp = PerfBreakdown(app=app, endpoint=endpoint, period=HOUR, start=hour,
                               fingerprint=fp, category=parts[0].category, label=parts[0].label,
                               count=0, total_ms=0.0, self_ms=0.0, rolled=False)
            session.add(hp)
        for part in parts:
            hp.count += part.count
            hp.total_ms += part.total_ms
            hp.self_ms += part.self_ms
            part.rolled = True
    session.flush()
    return len(minutes) + len(pieces)


def prune(session: Session, now: datetime) -> None:
    """Delete minutes older than 2 days, hours older than 30, samples older than 7."""
    for model in (PerfBucket, PerfBreakdown):
        session.execute(delete(model).where(model.period == MINUTE,
                                            model.start < now - KEEP_MINUTES))
        session.execute(delete(model).where(model.period == HOUR,
                                            model.start < now - KEEP_HOURS))
    delete_samples_before(session, now - KEEP_SAMPLES)
    session.execute(delete(PerfDeploy).where(PerfDeploy.at < now - KEEP_DEPLOYS))


def maintain(session: Session, now: datetime) -> None:
    """Roll up, then prune: run about hourly."""
    rollup(session, now)
    prune(session, now)

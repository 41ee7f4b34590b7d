"""Roll-ups: minutes merged into hours once the hour is over, hours into days once the day is.

A row marked ``rolled`` is contained in its parent (minute → hour → day), so a long range
reads a week as seven day rows instead of thousands of minutes (see :mod:`cover`). Data that
arrives late for a rolled row is added to its parents as well: a parent always holds exactly
what its rolled children hold, and a request is never counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.monitor.perf import sketch as sk
from roost.store.models.perf import DAY, HOUR, MINUTE, PerfBreakdown, PerfBucket

# A minute still being flushed by another instance is not rolled yet (flushes run every 5 s).
GRACE = timedelta(minutes=2)
PARENT = {MINUTE: HOUR, HOUR: DAY}
Row = PerfBucket | PerfBreakdown


def floor(at: datetime, period: int) -> datetime:
    """The start of the ``period``-second bucket holding ``at`` (UTC epoch-aligned)."""
    return datetime.fromtimestamp(int(at.timestamp()) // period * period, UTC)


def ceil(at: datetime, period: int) -> datetime:
    """The start of the first ``period``-second bucket starting at or after ``at``."""
    start = floor(at, period)
    return start if start == at else start + timedelta(seconds=period)


def _locked(session: Session, model: type[Row], stmt: Any) -> list[Any]:
    # PostgreSQL: hold the rows (in id order, as the flush does), so a flush on another
    # instance waits for the roll-up instead of adding to a row it has already read.
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.order_by(model.id).with_for_update()
    return list(session.scalars(stmt))


def _key(row: Row) -> tuple[str, str, str]:
    return (row.app, row.endpoint, getattr(row, "fingerprint", ""))


def _empty(like: Row, period: int, start: datetime) -> Row:
    if isinstance(like, PerfBucket):
        return PerfBucket(app=like.app, endpoint=like.endpoint, period=period, start=start,
                          count=0, errors=0, total_ms=0.0, sketch=sk.encode(sk.new_sketch()),
                          rolled=False)
    return PerfBreakdown(app=like.app, endpoint=like.endpoint, period=period, start=start,
                         fingerprint=like.fingerprint, category=like.category, label=like.label,
                         count=0, total_ms=0.0, self_ms=0.0, rolled=False)


def add_into(target: Row, parts: list[Row]) -> None:
    """Add the content of ``parts`` (rows or transient deltas of the same kind) to ``target``."""
    for part in parts:
        target.count += part.count
        target.total_ms += part.total_ms
    if isinstance(target, PerfBucket):
        buckets = [p for p in parts if isinstance(p, PerfBucket)]
        target.errors += sum(p.errors for p in buckets)
        target.sketch = sk.encode(sk.merge_encoded([target.sketch,
                                                    *(p.sketch for p in buckets)]))
    else:
        target.self_ms += sum(p.self_ms for p in parts if isinstance(p, PerfBreakdown))


def _parents(session: Session, model: type[Row], period: int,
             wanted: set[tuple[tuple[str, str, str], datetime]]) -> dict[Any, Row]:
    """Existing rows of ``period`` for ``wanted`` (key, start) pairs, locked on PostgreSQL."""
    by_app: dict[str, set[datetime]] = defaultdict(set)
    for (app, _e, _f), start in wanted:
        by_app[app].add(start)
    found: dict[Any, Row] = {}
    for app, starts in by_app.items():
        ordered = sorted(starts)
        for i in range(0, len(ordered), 400):
            stmt = select(model).where(model.app == app, model.period == period,
                                       model.start.in_(ordered[i:i + 400]))
            for row in _locked(session, model, stmt):
                found[(_key(row), row.start)] = row
    return found


def roll_level(session: Session, model: type[Row], period: int, now: datetime) -> int:
    """Merge unrolled rows of ``period`` whose parent bucket is over into it; return rows."""
    parent = PARENT[period]
    cutoff = floor(now - GRACE, parent)
    children = _locked(session, model, select(model).where(
        model.period == period, model.rolled.is_(False), model.start < cutoff))
    groups: dict[tuple[tuple[str, str, str], datetime], list[Row]] = defaultdict(list)
    for row in children:
        groups[(_key(row), floor(row.start, parent))].append(row)
    existing = _parents(session, model, parent, set(groups))
    climbing: list[Row] = []
    for (key, start), rows in groups.items():
        target = existing.get((key, start))
        if target is None:
            target = _empty(rows[0], parent, start)
            session.add(target)
        add_into(target, rows)
        if target.rolled:  # a late minute in an hour already in its day: the day takes it too
            climbing.append(_carrier(rows, parent, start))
        for row in rows:
            row.rolled = True
    session.flush()
    propagate(session, model, climbing, parent)
    return len(children)


def _carrier(parts: list[Row], period: int, start: datetime) -> Row:
    """A transient row of ``period`` holding the sum of ``parts``, never added to the session."""
    carrier = _empty(parts[0], period, start)
    add_into(carrier, parts)
    return carrier


def rollup(session: Session, now: datetime) -> int:
    """Roll minutes into hours, then hours into days, for buckets and breakdowns."""
    done = 0
    for model in (PerfBucket, PerfBreakdown):
        done += roll_level(session, model, MINUTE, now)
        done += roll_level(session, model, HOUR, now)
    return done


def propagate(session: Session, model: type[Row], deltas: list[Row], period: int) -> None:
    """Add late ``deltas`` (transient rows of ``period`` whose stored row is rolled) to parents.

    Called by the flush for data landing in an already rolled minute; climbs as far as the
    parents are rolled themselves.
    """
    while deltas and period in PARENT:
        parent = PARENT[period]
        groups: dict[tuple[tuple[str, str, str], datetime], list[Row]] = defaultdict(list)
        for delta in deltas:
            groups[(_key(delta), floor(delta.start, parent))].append(delta)
        existing = _parents(session, model, parent, set(groups))
        climbing: list[Row] = []
        for (key, start), parts in groups.items():
            target = existing.get((key, start))
            if target is None:  # its parent was pruned: start it again, the next roll-up climbs
                target = _empty(parts[0], parent, start)
                session.add(target)
            add_into(target, parts)
            if target.rolled:
                climbing.append(_carrier(parts, parent, start))
        session.flush()
        deltas, period = climbing, parent

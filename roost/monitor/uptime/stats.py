"""Uptime figures from hourly rollups, and pruning of raw results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from roost.monitor.uptime.specs import DayBar
from roost.store.base import utcnow
from roost.store.models.uptime import CheckResult, UptimeHourly

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
           "90d": timedelta(days=90)}


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour containing ``at``."""
    return at.replace(minute=0, second=0, microsecond=0)


def add_to_rollups(session: Session, rows: Iterable[tuple[int, datetime, bool, float]]) -> None:
    """Add (monitor id, time, ok, latency ms) results to the hourly rollups in one upsert."""
    sums: dict[tuple[int, datetime], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for monitor_id, at, ok, latency in rows:
        acc = sums[(monitor_id, hour_of(at))]
        acc[0] += 1
        acc[1] += 0 if ok else 1
        acc[2] += latency
    if not sums:
        return
    values = [
        {"monitor_id": mid, "hour": hour, "checks": int(a[0]), "failures": int(a[1]),
         "latency_ms_sum": a[2]}
        for (mid, hour), a in sorted(sums.items())
    ]
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = ins(UptimeHourly).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["monitor_id", "hour"],
        set_={
            "checks": UptimeHourly.checks + stmt.excluded.checks,
            "failures": UptimeHourly.failures + stmt.excluded.failures,
            "latency_ms_sum": UptimeHourly.latency_ms_sum + stmt.excluded.latency_ms_sum,
        },
    )
    session.execute(stmt)


def uptime(
    session: Session, monitor_id: int, now: datetime | None = None,
) -> dict[str, float | None]:
    """Percent of successful checks over 24 h, 7 d, 30 d and 90 d (None without checks)."""
    now = now or utcnow()
    out: dict[str, float | None] = {}
    for name, span in WINDOWS.items():
        checks, failures = session.execute(
            select(func.coalesce(func.sum(UptimeHourly.checks), 0),
                   func.coalesce(func.sum(UptimeHourly.failures), 0))
            .where(UptimeHourly.monitor_id == monitor_id,
                   UptimeHourly.hour >= hour_of(now - span))
        ).one()
        out[name] = round(100.0 * (checks - failures) / checks, 3) if checks else None
    return out


def daily_bars(
    session: Session, monitor_id: int, days: int = 90, now: datetime | None = None,
) -> list[DayBar]:
    """One bar per UTC day for the status page, oldest first."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for hour, checks, failures in session.execute(
        select(UptimeHourly.hour, UptimeHourly.checks, UptimeHourly.failures)
        .where(UptimeHourly.monitor_id == monitor_id, UptimeHourly.hour >= first)
    ):
        acc = per_day[hour.date().isoformat()]
        acc[0] += checks
        acc[1] += failures
    bars = []
    for i in range(days):
        day = (first + timedelta(days=i)).date().isoformat()
        checks, failures = per_day.get(day, [0, 0])
        share = round(100.0 * (checks - failures) / checks, 3) if checks else None
        bars.append(DayBar(day=day, checks=checks, failures=failures, uptime=share))
    return bars


def prune(session: Session, keep: timedelta, now: datetime | None = None) -> int:
    """Delete raw results older than ``keep`` (rollups stay); returns rows deleted."""
    cutoff = (now or utcnow()) - keep
    result = session.execute(delete(CheckResult).where(CheckResult.at < cutoff))
    hourly_cutoff = (now or utcnow()) - timedelta(days=100)
    session.execute(delete(UptimeHourly).where(UptimeHourly.hour < hourly_cutoff))
    return int(getattr(result, "rowcount", 0) or 0)

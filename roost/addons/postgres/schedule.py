"""Daily backups: each app's time of day (UTC), which apps are due, and retention.

Retention keeps, among scheduled backups, the newest of each of the last 7 days that have
one and the newest of each of the last 4 ISO weeks that have one; older scheduled backups
go (object first, then row). Backups captured by hand are never deleted by retention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from roost.addons.postgres import backups
from roost.addons.postgres.backups import BackupRecord
from roost.errors import InvalidInput
from roost.objectstore import ObjectStore
from roost.store.models.pg_backups import PgBackupSchedule

AT_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DAILY = 7
WEEKLY = 4


@dataclass(frozen=True)
class Schedule:
    """An app's daily backup time and the last day it ran."""

    app: str
    at: str
    last_run_on: str


def check_at(at: str) -> str:
    """``HH:MM`` (24-hour, UTC) or one clear line."""
    if not AT_RE.match(at.strip()):
        raise InvalidInput(f"--at {at!r}: give a time of day as HH:MM (24-hour, UTC), "
                           "e.g. --at 02:00")
    return at.strip()


def set_schedule(sessions: sessionmaker[Session], app: str, at: str) -> Schedule:
    """Back ``app`` up every day at ``at`` (UTC)."""
    at = check_at(at)
    with sessions.begin() as session:
        row = session.scalar(select(PgBackupSchedule).where(PgBackupSchedule.app == app))
        if row is None:
            row = PgBackupSchedule(app=app, at=at, last_run_on="")
            session.add(row)
        row.at = at
        return Schedule(app, at, row.last_run_on)


def get_schedule(sessions: sessionmaker[Session], app: str) -> Schedule | None:
    """``app``'s schedule, if it has one."""
    with sessions.begin() as session:
        row = session.scalar(select(PgBackupSchedule).where(PgBackupSchedule.app == app))
        return Schedule(row.app, row.at, row.last_run_on) if row else None


def due(sessions: sessionmaker[Session], now: datetime) -> list[str]:
    """Apps whose time of day has passed today (UTC) without a scheduled backup today."""
    today, clock = now.strftime("%Y-%m-%d"), now.strftime("%H:%M")
    with sessions.begin() as session:
        rows = session.scalars(select(PgBackupSchedule).order_by(PgBackupSchedule.app))
        return [r.app for r in rows if r.at <= clock and r.last_run_on != today]


def mark_ran(sessions: sessionmaker[Session], app: str, now: datetime) -> None:
    """Record that today's scheduled backup of ``app`` was attempted."""
    with sessions.begin() as session:
        row = session.scalar(select(PgBackupSchedule).where(PgBackupSchedule.app == app))
        if row is not None:
            row.last_run_on = now.strftime("%Y-%m-%d")


def expired(records: list[BackupRecord], daily: int = DAILY, weekly: int = WEEKLY
            ) -> list[BackupRecord]:
    """The scheduled backups that retention deletes (newest-first input or not)."""
    scheduled = sorted((r for r in records if r.trigger == "scheduled" and r.created_at),
                       key=lambda r: r.created_at or datetime.min, reverse=True)
    keep: set[str] = set()
    days: list[str] = []
    weeks: list[tuple[int, int]] = []
    for record in scheduled:  # newest first: the first seen of a day/week is its newest
        assert record.created_at is not None
        day = record.created_at.strftime("%Y-%m-%d")
        iso = record.created_at.isocalendar()
        week = (iso[0], iso[1])
        if day not in days and len(days) < daily:
            days.append(day)
            keep.add(record.id)
        if week not in weeks and len(weeks) < weekly:
            weeks.append(week)
            keep.add(record.id)
    return [r for r in scheduled if r.id not in keep]


def apply_retention(sessions: sessionmaker[Session], objects: ObjectStore, app: str
                    ) -> list[str]:
    """Delete ``app``'s expired scheduled backups; return their ids."""
    gone = expired(backups.list_backups(sessions, app))
    for record in gone:
        backups.delete(sessions, objects, app, record.id)
    return [r.id for r in gone]


def consecutive_failures(records: list[BackupRecord]) -> int:
    """How many of the newest verified-or-failed backups failed in a row."""
    count = 0
    for record in sorted(records, key=lambda r: backups.parse_id(r.id), reverse=True):
        if record.status == "failed":
            count += 1
        elif record.status == "verified":
            break
    return count

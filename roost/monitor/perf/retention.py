"""Pruning what is past its retention, after the roll-ups (see :mod:`rollup`) have run."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from roost.monitor.perf.flush import delete_samples_before
from roost.monitor.perf.rollup import rollup
from roost.store.models.perf import DAY, HOUR, MINUTE, PerfBreakdown, PerfBucket, PerfDeploy

KEEP_MINUTES = timedelta(days=2)
KEEP_HOURS = timedelta(days=30)
KEEP_DAYS = timedelta(days=31)
KEEP_SAMPLES = timedelta(days=7)
KEEP_DEPLOYS = timedelta(days=90)

__all__ = ["KEEP_HOURS", "KEEP_MINUTES", "maintain", "prune", "rollup"]


def prune(session: Session, now: datetime) -> None:
    """Delete minutes older than 2 days, hours older than 30, days older than 31, samples
    older than 7."""
    for model in (PerfBucket, PerfBreakdown):
        for period, keep in ((MINUTE, KEEP_MINUTES), (HOUR, KEEP_HOURS), (DAY, KEEP_DAYS)):
            session.execute(delete(model).where(model.period == period,
                                                model.start < now - keep))
    delete_samples_before(session, now - KEEP_SAMPLES)
    session.execute(delete(PerfDeploy).where(PerfDeploy.at < now - KEEP_DEPLOYS))


def maintain(session: Session, now: datetime) -> None:
    """Roll up, then prune: run about hourly."""
    rollup(session, now)
    prune(session, now)

"""Which stored rows answer a time range: the coarsest that fit, each request exactly once.

A range from ``since`` to now is read as minutes up to the first whole hour, hours up to the
first whole day, then days; rows not yet rolled into their parent are read at their own
level. A week is then at most 7 days, 23 + 24 hours and the unrolled minutes of the last hour
per endpoint, with the same counts and sketches as the minutes would give.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_

from roost.monitor.perf.retention import KEEP_HOURS, KEEP_MINUTES
from roost.monitor.perf.rollup import ceil, floor
from roost.store.models.perf import DAY, HOUR, MINUTE, PerfBreakdown, PerfBucket


def edges(since: datetime, now: datetime) -> tuple[datetime, datetime, datetime]:
    """Where minutes give way to hours, and hours to days, for a range from ``since``.

    Rows starting at or after ``now`` minus their retention are never pruned yet (the prune
    runs at an earlier ``now``). Where the finer rows are gone, the bucket holding ``since``
    counts whole.
    """
    start = floor(since, MINUTE)
    hours = ceil(start, HOUR) if start >= now - KEEP_MINUTES else floor(start, HOUR)
    days = ceil(hours, DAY) if start >= now - KEEP_HOURS else floor(hours, DAY)
    return start, hours, days


def covering(model: type[PerfBucket] | type[PerfBreakdown], since: datetime,
             now: datetime) -> Any:
    """A WHERE clause selecting the rows of ``model`` that cover ``since``..``now`` once."""
    start, hours, days = edges(since, now)
    # Each branch is a range of an index (the unrolled ones of (app, period, rolled, start)):
    # "rolled is false or start < hours" as one branch read every minute of the range, two
    # days of them for a week, to keep the few of the last hour.
    return or_(
        and_(model.period == MINUTE, model.start >= start, model.start < hours),
        and_(model.period == MINUTE, model.rolled.is_(False), model.start >= max(start, hours)),
        and_(model.period == HOUR, model.start >= hours, model.start < days),
        and_(model.period == HOUR, model.rolled.is_(False), model.start >= max(hours, days)),
        and_(model.period == DAY, model.start >= days),
    )


def hourly(model: type[PerfBucket] | type[PerfBreakdown], since: datetime) -> Any:
    """Rows for a series at hour resolution: hours from ``since``'s hour on, plus the minutes
    not rolled into them yet (grouped by hour by the caller)."""
    return or_(
        and_(model.period == HOUR, model.start >= floor(since, HOUR)),
        and_(model.period == MINUTE, model.rolled.is_(False),
             model.start >= floor(since, HOUR)),
    )

"""Flap detection in the Nagios manner: weighted share of state changes in the last checks.

Changes count more the more recent they are (weights 0.8 to 1.2). A monitor starts
flapping when the share rises above ``HIGH`` percent and stops when it falls below
``LOW``; the gap between the two keeps it from toggling on the threshold itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.store.models.uptime import FlapEpisode, Monitor

WINDOW = 21
MIN_CHECKS = 2
HIGH = 30.0
LOW = 15.0


def change_percent(history: str) -> float:
    """Weighted percentage of state changes in ``history`` (a string of u/d outcomes).

    The share is always of the full window's transitions, so a short history (a new
    monitor, one outage and its recovery) does not look like flapping.
    """
    history = history[-WINDOW:]
    skipped = WINDOW - len(history)
    total = 0.0
    for i in range(1, len(history)):
        if history[i] != history[i - 1]:
            total += 0.8 + 0.4 * (skipped + i - 1) / (WINDOW - 2)
    return 100.0 * total / (WINDOW - 1)


def evaluate(session: Session, m: Monitor, now: datetime) -> None:
    """Start or end a flapping episode for ``m`` from its recent history."""
    if len(m.history) < MIN_CHECKS:
        return
    pct = change_percent(m.history)
    if not m.flapping and pct >= HIGH:
        m.flapping = True
        session.add(FlapEpisode(monitor_id=m.id, app_name=m.app_name, started_at=now,
                                change_percent=round(pct, 1), notified=False))
    elif m.flapping and pct < LOW:
        m.flapping = False
        episode = session.scalars(
            select(FlapEpisode).where(FlapEpisode.monitor_id == m.id,
                                      FlapEpisode.ended_at.is_(None))
        ).first()
        if episode is not None:
            episode.ended_at = now

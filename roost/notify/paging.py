"""The paging policy: turn incidents into outbox messages.

One pass (run every second or so) pages the maintainers of newly confirmed outages,
reminds them of unacknowledged ones, escalates to on-call, announces flapping once and
sends one recovery message. Every message has an idempotency key, so a pass that runs
twice (two hosts, a crash before commit) sends nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.errors import NotFound
from roost.notify.outbox import enqueue
from roost.notify.recipients import PAGE_CHANNELS, OnCall, Recipient, RecipientsFor
from roost.store.base import utcnow
from roost.store.models.uptime import FlapEpisode, Incident, Maintenance, Monitor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PagingPolicy:
    """Reminder and escalation timing, and how long a page waits to be merged."""

    reminder_s: float = 1800.0
    escalate_after_s: float = 900.0
    merge_delay_s: float = 2.0


@dataclass
class PagingCounts:
    """What one pass queued."""

    pages: int = 0
    reminders: int = 0
    escalations: int = 0
    recoveries: int = 0
    flapping: int = 0


def _hhmm(at: datetime) -> str:
    return at.strftime("%H:%M")


def _people(recipients_for: RecipientsFor, app_name: str) -> list[Recipient]:
    try:
        return recipients_for(app_name)
    except NotFound:
        return []


def _send(
    session: Session, people: list[Recipient], key: str, kind: str, subject: str, body: str,
    part: str, policy: PagingPolicy, now: datetime,
) -> int:
    added = 0
    for person in people:
        added += enqueue(session, f"{key}:{person.key}:{kind}", person, kind, subject, body,
                         PAGE_CHANNELS, merge_part=part, delay=policy.merge_delay_s, now=now)
    return added


def run_paging(
    session: Session, recipients_for: RecipientsFor, oncall: OnCall,
    policy: PagingPolicy | None = None, now: datetime | None = None,
) -> PagingCounts:
    """One pass of the paging policy; commit the session afterwards."""
    policy, now = policy or PagingPolicy(), now or utcnow()
    counts = PagingCounts()
    open_incidents = session.scalars(
        select(Incident).where(Incident.confirmed_at.is_not(None), Incident.ended_at.is_(None))
    ).all()
    for inc in open_incidents:
        monitor = session.get(Monitor, inc.monitor_id)
        flapping = bool(monitor and monitor.flapping)
        quiet = in_maintenance(session, inc.app_name, now)
        key, since = f"incident:{inc.id}", _hhmm(inc.started_at)
        if inc.paged_at is None:
            inc.suppressed, inc.flapping = quiet, flapping
            if quiet or flapping:
                continue
            subject = f"DOWN {inc.app_name}: {inc.cause}"
            body = (f"DOWN {inc.app_name}: {inc.cause} since {since} UTC. "
                    f"Ack: roost incidents ack {inc.id}")
            part = f"DOWN {inc.app_name}: {inc.cause} since {since} UTC (ack {inc.id})"
            _send(session, _people(recipients_for, inc.app_name), key, "down", subject, body,
                  part, policy, now)
            inc.paged_at = inc.last_reminder_at = now
            counts.pages += 1
            continue
        if inc.acknowledged_at is not None or quiet:
            continue
        last = inc.last_reminder_at or inc.paged_at
        if now - last >= timedelta(seconds=policy.reminder_s):
            inc.reminders += 1
            body = (f"STILL DOWN {inc.app_name}: {inc.cause} since {since} UTC "
                    f"(reminder {inc.reminders}). Ack: roost incidents ack {inc.id}")
            part = f"STILL DOWN {inc.app_name} since {since} UTC (ack {inc.id})"
            _send(session, _people(recipients_for, inc.app_name), key,
                  f"reminder-{inc.reminders}", f"STILL DOWN {inc.app_name}", body, part,
                  policy, now)
            inc.last_reminder_at = now
            counts.reminders += 1
        if inc.escalated_at is None and now - inc.paged_at >= timedelta(
            seconds=policy.escalate_after_s
        ):
            minutes = int((now - inc.paged_at).total_seconds() // 60)
            body = (f"ESCALATED {inc.app_name} down since {since} UTC, unacknowledged for "
                    f"{minutes} min: {inc.cause}. Ack: roost incidents ack {inc.id}")
            part = f"ESCALATED {inc.app_name} down since {since} UTC (ack {inc.id})"
            _send(session, oncall(), key, "escalation", f"ESCALATED {inc.app_name}", body,
                  part, policy, now)
            inc.escalated_at = now
            counts.escalations += 1
    counts.recoveries = _recoveries(session, recipients_for, policy, now)
    counts.flapping = _flaps(session, recipients_for, policy, now)
    return counts


def _recoveries(
    session: Session, recipients_for: RecipientsFor, policy: PagingPolicy, now: datetime,
) -> int:
    done = session.scalars(
        select(Incident).where(Incident.ended_at.is_not(None), Incident.paged_at.is_not(None),
                               Incident.recovery_sent.is_(False))
    ).all()
    for inc in done:
        assert inc.ended_at is not None
        minutes = max(1, round((inc.ended_at - inc.started_at).total_seconds() / 60))
        body = (f"UP {inc.app_name}: back at {_hhmm(inc.ended_at)} UTC after {minutes} min "
                f"down (incident {inc.id}).")
        part = f"UP {inc.app_name} at {_hhmm(inc.ended_at)} UTC (incident {inc.id})"
        people = _people(recipients_for, inc.app_name)
        _send(session, people, f"incident:{inc.id}", "recovery", f"UP {inc.app_name}", body,
              part, policy, now)
        inc.recovery_sent = True
    return len(done)


def _flaps(
    session: Session, recipients_for: RecipientsFor, policy: PagingPolicy, now: datetime,
) -> int:
    episodes = session.scalars(select(FlapEpisode).where(FlapEpisode.notified.is_(False))).all()
    for ep in episodes:
        ep.notified = True
        if in_maintenance(session, ep.app_name, now):
            continue
        body = (f"FLAPPING {ep.app_name}: up/down in {ep.change_percent:.0f}% of recent checks "
                f"since {_hhmm(ep.started_at)} UTC. No pages until it settles.")
        _send(session, _people(recipients_for, ep.app_name), f"flap:{ep.id}", "flapping",
              f"FLAPPING {ep.app_name}", body, body, policy, now)
    return len(episodes)


def in_maintenance(session: Session, app_name: str, now: datetime | None = None) -> bool:
    """Whether a window covers ``app_name`` right now."""
    now = now or utcnow()
    return session.scalar(
        select(Maintenance.id).where(
            Maintenance.app_name == app_name, Maintenance.starts_at <= now,
            Maintenance.ends_at > now,
        ).limit(1)
    ) is not None

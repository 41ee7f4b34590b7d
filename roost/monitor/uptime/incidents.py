"""Incidents (list, acknowledge) and maintenance windows (add, list, remove)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.errors import Conflict, InvalidInput, NotFound
from roost.monitor.uptime.specs import IncidentView, MaintenanceView
from roost.store.base import utcnow
from roost.store.models.uptime import Incident, Maintenance


def list_incidents(
    session: Session, app_name: str | None = None, *, open_only: bool = False,
    include_unconfirmed: bool = False, limit: int = 100,
) -> list[IncidentView]:
    """Incidents, newest first; one-location failures only with ``include_unconfirmed``."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if app_name:
        query = query.where(Incident.app_name == app_name)
    if open_only:
        query = query.where(Incident.ended_at.is_(None))
    if not include_unconfirmed:
        query = query.where(Incident.confirmed_at.is_not(None))
    return [IncidentView.model_validate(i) for i in session.scalars(query)]


def ack(session: Session, incident_id: int, by: str, now: datetime | None = None) -> IncidentView:
    """Acknowledge an incident: reminders and escalation stop."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}; `roost incidents --open` lists open ones")
    if incident.acknowledged_at is not None:
        raise Conflict(f"incident {incident_id} was acknowledged by {incident.acknowledged_by} "
                       f"at {incident.acknowledged_at:%Y-%m-%d %H:%M} UTC")
    incident.acknowledged_at = now or utcnow()
    incident.acknowledged_by = by
    session.flush()
    return IncidentView.model_validate(incident)


def add_maintenance(
    session: Session, app_name: str, *, start: datetime | None = None,
    end: datetime | None = None, duration_s: float | None = None, reason: str = "",
    by: str = "",
) -> MaintenanceView:
    """A window in which ``app_name``'s outages are checked and recorded but page nobody."""
    start = start or utcnow()
    if start.tzinfo is None:
        raise InvalidInput("--start needs a time zone, e.g. 2025-01-31T22:00:00Z")
    if (end is None) == (duration_s is None):
        raise InvalidInput("give either --end or --duration for a maintenance window")
    if end is None:
        assert duration_s is not None
        if duration_s <= 0:
            raise InvalidInput("--duration must be positive")
        end = start + timedelta(seconds=duration_s)
    if end.tzinfo is None:
        raise InvalidInput("--end needs a time zone, e.g. 2025-01-31T23:00:00Z")
    if end <= start:
        raise InvalidInput("--end must be after --start")
    if end - start > timedelta(days=31):
        raise InvalidInput("a maintenance window may last at most 31 days")
    window = Maintenance(app_name=app_name, starts_at=start, ends_at=end, reason=reason[:300],
                         created_by=by)
    session.add(window)
    session.flush()
    return MaintenanceView.model_validate(window)


def list_maintenance(
    session: Session, app_name: str | None = None, *, include_past: bool = False,
    now: datetime | None = None,
) -> list[MaintenanceView]:
    """Current and future windows (and past ones with ``include_past``)."""
    query = select(Maintenance).order_by(Maintenance.starts_at)
    if app_name:
        query = query.where(Maintenance.app_name == app_name)
    if not include_past:
        query = query.where(Maintenance.ends_at > (now or utcnow()))
    return [MaintenanceView.model_validate(m) for m in session.scalars(query)]


def remove_maintenance(session: Session, window_id: int) -> MaintenanceView:
    """Delete a maintenance window."""
    window = session.get(Maintenance, window_id)
    if window is None:
        raise NotFound(f"no maintenance window {window_id}; `roost maintenance` lists them")
    shown = MaintenanceView.model_validate(window)
    session.delete(window)
    session.flush()
    return shown



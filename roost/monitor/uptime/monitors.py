"""Monitor service functions: create, list, get, pause, resume, remove, info."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.errors import InvalidInput, NotFound
from roost.monitor.uptime import display, stats, validate
from roost.monitor.uptime.specs import CheckView, IncidentView, MonitorInfo, MonitorView
from roost.store.base import utcnow
from roost.store.models.uptime import CheckResult, Incident, Monitor


def create(
    session: Session, app_name: str, target: str, *, kind: str = "http",
    method: str = "GET", headers: dict[str, str] | None = None,
    expected_status: str | list[int] | None = None, max_response_ms: int | None = None,
    body_contains: str | None = None, body_regex: str | None = None,
    follow_redirects: bool = True, verify_tls: bool = True, tls_warn_days: int = 14,
    interval_s: float = 30.0, timeout_s: float | None = None, confirm_failures: int = 2,
    confirm_successes: int = 2, owner: str = "user", name: str = "",
    min_interval_s: float = validate.MIN_INTERVAL_S,
) -> MonitorView:
    """Add a monitor to ``app_name``; ``min_interval_s`` is lowered only by tests."""
    if not app_name.strip():
        raise InvalidInput("a monitor belongs to an app: give the app name")
    kind = validate.kind(kind)
    timeout = timeout_s if timeout_s is not None else min(10.0, interval_s)
    validate.timing(interval_s, timeout, min_interval_s)
    if max_response_ms is not None and max_response_ms <= 0:
        raise InvalidInput("--max-response-ms must be a positive number of milliseconds")
    if not 1 <= tls_warn_days <= 365:
        raise InvalidInput("--warn-days must be between 1 and 365")
    if owner not in ("user", "app", "addon", "domain"):
        raise InvalidInput("owner must be 'user', 'app', 'addon' or 'domain'")
    monitor = Monitor(
        app_name=app_name.strip(), name=validate.name(name), kind=kind,
        target=validate.target(kind, target),
        method=validate.method(method), headers=validate.headers(headers),
        expected_status=validate.expected_status(expected_status),
        max_response_ms=max_response_ms, body_contains=body_contains or None,
        body_regex=validate.regex(body_regex), follow_redirects=follow_redirects,
        verify_tls=verify_tls, tls_warn_days=tls_warn_days, interval_s=float(interval_s),
        timeout_s=float(timeout), confirm_failures=validate.count("--confirm", confirm_failures),
        confirm_successes=validate.count("--recover", confirm_successes), owner=owner,
        created_at=utcnow(), state="unknown", history="",
    )
    session.add(monitor)
    session.flush()
    return view(monitor)


def view(monitor: Monitor) -> MonitorView:
    """The API view of a monitor row (a postgres:// target without its password)."""
    shown = MonitorView.model_validate(monitor)
    if shown.kind == "postgres":
        shown.target = display.redact(shown.kind, shown.target)
    return shown


def retarget(session: Session, monitor_id: int, kind: str, target: str) -> bool:
    """Point a monitor at another target (an add-on's database moved); True if it changed."""
    monitor = _get(session, monitor_id)
    kind = validate.kind(kind)
    target = validate.target(kind, target)
    if monitor.kind == kind and monitor.target == target:
        return False
    monitor.kind, monitor.target = kind, target
    monitor.state, monitor.fail_streak, monitor.ok_streak = "unknown", 0, 0
    return True


def _get(session: Session, monitor_id: int) -> Monitor:
    monitor = session.get(Monitor, monitor_id)
    if monitor is None:
        raise NotFound(f"no monitor {monitor_id}; `roost monitors` lists them")
    return monitor


def get(session: Session, monitor_id: int) -> MonitorView:
    """One monitor."""
    return view(_get(session, monitor_id))


def list_monitors(session: Session, app_name: str | None = None) -> list[MonitorView]:
    """Every monitor, or those of one app."""
    query = select(Monitor).order_by(Monitor.app_name, Monitor.id)
    if app_name:
        query = query.where(Monitor.app_name == app_name)
    return [view(m) for m in session.scalars(query)]


def pause(session: Session, monitor_id: int) -> MonitorView:
    """Stop checking a monitor; its state becomes unknown."""
    monitor = _get(session, monitor_id)
    monitor.paused = True
    monitor.state, monitor.fail_streak, monitor.ok_streak = "unknown", 0, 0
    monitor.verify_probe = None
    return view(monitor)


def resume(session: Session, monitor_id: int) -> MonitorView:
    """Check a paused monitor again."""
    monitor = _get(session, monitor_id)
    monitor.paused = False
    return view(monitor)


def remove(session: Session, monitor_id: int) -> MonitorView:
    """Delete a monitor with its results and incidents."""
    monitor = _get(session, monitor_id)
    shown = view(monitor)
    session.delete(monitor)
    session.flush()
    return shown


def last_checks(session: Session, monitor_id: int, limit: int = 20) -> list[CheckView]:
    """The newest ``limit`` check results of a monitor."""
    rows = session.scalars(
        select(CheckResult).where(CheckResult.monitor_id == monitor_id)
        .order_by(CheckResult.at.desc(), CheckResult.id.desc()).limit(limit)
    )
    return [CheckView.model_validate(r) for r in rows]


def info(
    session: Session, monitor_id: int, *, checks: int = 20, now: datetime | None = None,
) -> MonitorInfo:
    """State, uptime over 24 h / 7 d / 30 d / 90 d, the last checks and any open incident."""
    monitor = _get(session, monitor_id)
    incident = session.scalars(
        select(Incident).where(Incident.monitor_id == monitor_id, Incident.ended_at.is_(None))
        .order_by(Incident.id.desc()).limit(1)
    ).first()
    return MonitorInfo(
        monitor=view(monitor),
        uptime=stats.uptime(session, monitor_id, now=now),
        last_checks=last_checks(session, monitor_id, checks),
        open_incident=IncidentView.model_validate(incident) if incident else None,
    )

"""Uptime on the dashboard: an app's Uptime tab (monitors with 90-day bars, incidents with
acknowledgement) and the public status page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from roost.api.dashboard.tabs import tab_page
from roost.api.dashboard.web import render, to_login, viewer
from roost.api.deps import SessionDep
from roost.core import apps
from roost.monitor.uptime import display, incidents, monitors
from roost.store.base import utcnow
from roost.store.models.uptime import UptimeHourly

router = APIRouter(include_in_schema=False)
DAYS = 90


def _bar(day: str, checks: int, failures: int) -> str:
    if not checks:
        return f'<div class="bar none" title="{day}: no data"></div>'
    share = 100.0 * (checks - failures) / checks
    cls = "full" if share >= 99.9 else "part" if share >= 95 else "down"
    return f'<div class="bar {cls}" title="{day}: {share:.2f}%"></div>'


def daily_bars(session: Session, ids: list[int], days: int = DAYS,
               now: datetime | None = None) -> dict[int, tuple[str, Markup]]:
    """For each monitor: its uptime over ``days`` and one bar per UTC day (as HTML, since a
    page of monitors has thousands of bars), in one query."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    sums: dict[int, list[list[int]]] = {m: [[0, 0] for _ in range(days)] for m in ids}
    if ids:
        day = (func.date(func.timezone("UTC", UptimeHourly.hour))
               if session.get_bind().dialect.name == "postgresql"
               else func.date(UptimeHourly.hour))  # SQLite keeps UTC text
        for monitor_id, on, checks, failures in session.execute(
                select(UptimeHourly.monitor_id, day, func.sum(UptimeHourly.checks),
                       func.sum(UptimeHourly.failures))
                .where(UptimeHourly.monitor_id.in_(ids), UptimeHourly.hour >= first)
                .group_by(UptimeHourly.monitor_id, day)):
            index = (date.fromisoformat(str(on)[:10]) - first.date()).days
            if 0 <= index < days:
                sums[monitor_id][index] = [int(checks or 0), int(failures or 0)]
    names = [(first + timedelta(days=i)).date().isoformat() for i in range(days)]
    out = {}
    for monitor_id, per_day in sums.items():
        total = sum(c for c, _ in per_day)
        failed = sum(f for _, f in per_day)
        html = "".join(_bar(name, c, f) for name, (c, f) in zip(names, per_day, strict=True))
        out[monitor_id] = (f"{100.0 * (total - failed) / total:.2f}%" if total else "-",
                           Markup(f'<div class="bars">{html}</div>'))
    return out


@router.get("/apps/{app}/uptime", response_class=HTMLResponse)
def uptime_tab(app: str, request: Request, session: SessionDep) -> Response:
    """Monitors with 90-day bars, open incidents (acknowledge them) and past ones."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    apps.get(session, app)
    listed = monitors.list_monitors(session, app)
    bars = daily_bars(session, [m.id for m in listed])
    shown = [{**m.model_dump(), "uptime": bars[m.id][0], "bars": bars[m.id][1]}
             for m in listed]
    everything = incidents.list_incidents(session, app, limit=50)
    return tab_page(request, session, who, app, "uptime", "tab_uptime.html", {
        "monitors": shown, "incidents": [i for i in everything if i.ended_at is None],
        "past": [i for i in everything if i.ended_at is not None],
        "next_url": f"/apps/{app}/uptime"})


@router.get("/status/{name}", response_class=HTMLResponse)
def status_page(name: str, request: Request, session: SessionDep) -> Response:
    """Public status of an app: current state and 90-day uptime bars per monitor."""
    apps.get(session, name)
    every = monitors.list_monitors(session, name)
    listed = [m for m in every if not m.paused]
    bars = daily_bars(session, [m.id for m in listed])
    shown: list[dict[str, Any]] = [
        {"label": display.display_name(m), "uptime": bars[m.id][0], "bars": bars[m.id][1]}
        for m in listed]
    states = [m.state for m in listed]
    if not states:
        overall, cls = "No monitors yet", "unknown"
    elif any(s == "down" for s in states):
        overall, cls = "Some systems are down", "bad"
    elif all(s == "up" for s in states):
        overall, cls = "All systems operational", "ok"
    else:
        overall, cls = "Checking…", "unknown"
    targets = [m.target for m in every]
    recent = [{"started_at": i.started_at, "ended_at": i.ended_at,
               "cause": display.scrub(i.cause, targets)}
              for i in incidents.list_incidents(session, name)[:10]]
    return render(request, "status.html", {
        "name": name, "monitors": shown, "overall": overall, "overall_class": cls,
        "incidents": recent, "now": utcnow()})

"""Uptime on the dashboard (monitors, open incidents) and the public status page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from roost.api.dashboard import app_views, views
from roost.api.dashboard.views import templates
from roost.api.deps import SessionDep
from roost.core import apps
from roost.monitor.uptime import display, incidents, monitors, stats
from roost.store.base import utcnow

router = APIRouter(include_in_schema=False)


def monitors_section(request: Request, session: Session, app: str | None = None) -> Markup:
    """Monitors and open incidents, of every app or of one."""
    html = templates.get_template("monitors_section.html").render(
        monitors=monitors.list_monitors(session, app),
        incidents=incidents.list_incidents(session, app, open_only=True))
    return Markup(html)


def _bar(uptime: float | None) -> dict[str, str]:
    if uptime is None:
        return {"cls": "", "text": "no data"}
    cls = "full" if uptime >= 99.9 else "part" if uptime >= 95 else "down"
    return {"cls": cls, "text": f"{uptime:.2f}%"}


@router.get("/status/{name}", response_class=HTMLResponse)
def status_page(name: str, request: Request, session: SessionDep) -> Response:
    """Public status of an app: current state and 90-day uptime bars per monitor."""
    apps.get(session, name)
    shown: list[dict[str, Any]] = []
    states = []
    listed = monitors.list_monitors(session, name)
    for m in listed:
        if m.paused:
            continue
        states.append(m.state)
        bars = stats.daily_bars(session, m.id, days=90)
        checks = sum(b.checks for b in bars)
        fails = sum(b.failures for b in bars)
        shown.append({"label": display.display_name(m),
                      "uptime": f"{100.0 * (checks - fails) / checks:.2f}%" if checks else "-",
                      "bars": [{"day": b.day, **_bar(b.uptime)} for b in bars]})
    if not states:
        overall, cls = "No monitors yet", "unknown"
    elif any(s == "down" for s in states):
        overall, cls = "Some systems are down", "bad"
    elif all(s == "up" for s in states):
        overall, cls = "All systems operational", "ok"
    else:
        overall, cls = "Checking…", "unknown"
    targets = [m.target for m in listed]
    recent = [{"started_at": i.started_at, "ended_at": i.ended_at,
               "cause": display.scrub(i.cause, targets)}
              for i in incidents.list_incidents(session, name)[:10]]
    return templates.TemplateResponse(request, "status.html", {
        "name": name, "monitors": shown, "overall": overall, "overall_class": cls,
        "incidents": recent, "now": utcnow()})


views.SECTIONS.append(lambda request, session: monitors_section(request, session))
app_views.APP_SECTIONS.append(monitors_section)

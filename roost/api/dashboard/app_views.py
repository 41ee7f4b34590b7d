"""Dashboard pages of one app: endpoints, an endpoint's latency and breakdown, a trace."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from roost.api.dashboard.charts import latency_chart, timeline
from roost.api.dashboard.views import logged_in, templates
from roost.api.deps import PlatformDep, SessionDep
from roost.api.routers.apps import app_out, maintainer_out
from roost.core import apps, durations
from roost.errors import RoostError
from roost.monitor.perf import query
from roost.store.base import utcnow

router = APIRouter(include_in_schema=False)

# Other subsystems add sections to an app's page: (request, session, app name) -> HTML.
APP_SECTIONS: list[Callable[[Request, Session, str], Markup]] = []


def _since(text: str) -> str:
    try:
        durations.parse(text)
    except RoostError:
        return "1h"
    return text


@router.get("/apps/{app}", response_class=HTMLResponse)
def app_page(app: str, request: Request, session: SessionDep, ctx: PlatformDep,
             since: str = "1h") -> Response:
    """An app: its sections (monitors, incidents, vulnerabilities) and its endpoints."""
    if not logged_in(request, session):
        return RedirectResponse("/", status_code=303)
    since = _since(since)
    found = apps.get(session, app)
    endpoints = query.endpoint_table(session, app, utcnow() - durations.parse(since))
    sections = [render(request, session, app) for render in APP_SECTIONS]
    return templates.TemplateResponse(request, "app.html", {
        "logged_in": True, "app": app_out(found, ctx), "endpoints": endpoints,
        "maintainers": [maintainer_out(m, session) for m in found.maintainers],
        "since": since, "sections": sections})


@router.get("/apps/{app}/perf", response_class=HTMLResponse)
def endpoint_page(app: str, endpoint: str, request: Request, session: SessionDep,
                  since: str = "1h") -> Response:
    """One endpoint: p95 chart with deploy markers, breakdown, sample traces."""
    if not logged_in(request, session):
        return RedirectResponse("/", status_code=303)
    since = _since(since)
    apps.get(session, app)
    detail = query.endpoint_detail(session, app, endpoint, utcnow() - durations.parse(since))
    chart = latency_chart([(p.start, p.p95_ms) for p in detail.series],
                          [(d.at, d.release) for d in detail.deploys])
    return templates.TemplateResponse(request, "endpoint.html", {
        "logged_in": True, "app": app, "endpoint": endpoint, "d": detail, "chart": chart})


@router.get("/apps/{app}/traces/{trace_id}", response_class=HTMLResponse)
def trace_page(app: str, trace_id: str, request: Request, session: SessionDep) -> Response:
    """A sample trace as a timeline."""
    if not logged_in(request, session):
        return RedirectResponse("/", status_code=303)
    t = query.trace(session, app, trace_id)
    return templates.TemplateResponse(request, "trace.html", {
        "logged_in": True, "app": app, "t": t, "timeline": timeline(t.spans)})

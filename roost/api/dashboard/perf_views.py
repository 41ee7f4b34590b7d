"""An app's Perf tab: endpoints by impact, one endpoint's p95 chart with deploy markers and
its breakdown, and a sample trace as a timeline."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from roost.api.dashboard.charts import latency_chart, timeline
from roost.api.dashboard.tabs import tab_page
from roost.api.dashboard.web import to_login, viewer
from roost.api.deps import SessionDep
from roost.core import apps, durations
from roost.errors import RoostError
from roost.monitor.perf import query
from roost.store.base import utcnow

router = APIRouter(include_in_schema=False)
RANGES = ["1h", "6h", "24h", "7d"]


def _since(text: str) -> str:
    try:
        durations.parse(text)
    except RoostError:
        return "1h"
    return text


@router.get("/apps/{app}/perf", response_class=HTMLResponse)
def perf_tab(app: str, request: Request, session: SessionDep,
             endpoint: str | None = Query(default=None, max_length=500),
             since: str = Query(default="1h", max_length=10)) -> Response:
    """Endpoints by impact; with ``endpoint``, that endpoint's chart, breakdown and traces."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    since = _since(since)
    apps.get(session, app)
    start = utcnow() - durations.parse(since)
    if endpoint is not None:
        detail = query.endpoint_detail(session, app, endpoint, start)
        chart = latency_chart([(p.start, p.p95_ms) for p in detail.series],
                              [(d.at, d.release) for d in detail.deploys], start=start,
                              end=utcnow())
        return tab_page(request, session, who, app, "perf", "endpoint.html", {
            "endpoint": endpoint, "d": detail, "chart": chart, "since": since})
    return tab_page(request, session, who, app, "perf", "tab_perf.html", {
        "endpoints": query.endpoint_table(session, app, start), "since": since,
        "ranges": RANGES, "findings": query.findings(session, app, start)})


@router.get("/apps/{app}/traces/{trace_id}", response_class=HTMLResponse)
def trace_page(app: str, trace_id: str, request: Request, session: SessionDep) -> Response:
    """A sample trace as a timeline."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    t = query.trace(session, app, trace_id)
    return tab_page(request, session, who, app, "perf", "trace.html",
                    {"t": t, "timeline": timeline(t.spans)})

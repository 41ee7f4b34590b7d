"""An app's Vulnerabilities tab (findings with fixed versions; ignore with reason and expiry)
and its add-ons' panels (each add-on's own info and health, shown generically)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from roost.api.dashboard.tabs import tab_page
from roost.api.dashboard.web import to_login, viewer, viewer_of
from roost.api.deps import PlatformDep, SessionDep
from roost.core import apps
from roost.monitor import vulns
from roost.orchestration import addons as attached
from roost.store.session import transaction

router = APIRouter(include_in_schema=False)


@router.get("/apps/{app}/vulns", response_class=HTMLResponse)
def vulns_tab(app: str, request: Request, session: SessionDep) -> Response:
    """Findings of the app's last scan (ignored ones greyed) and its ignores."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    apps.get(session, app)
    report = vulns.app_report(session, app)
    return tab_page(request, session, who, app, "vulns", "tab_vulns.html", {
        "report": report, "findings": report.findings,
        "ignores": vulns.list_ignores(session, app)})


@router.get("/apps/{app}/addons/{kind}", response_class=HTMLResponse)
async def addon_tab(app: str, kind: str, request: Request, ctx: PlatformDep) -> Response:
    """One add-on's panel: whatever its ``info`` says, and its ``health``.

    Health checks may reach the add-on's server, so no store session is held meanwhile."""
    who = await run_in_threadpool(viewer_of, ctx, request)
    if who is None:
        return to_login()
    shown = [await run_in_threadpool(attached.view, ctx, app, kind)]

    def page() -> Response:
        with transaction(ctx.sessions) as session:
            return tab_page(request, session, who, app, f"addon:{kind}", "tab_addon.html",
                            {"addons": shown})

    return await run_in_threadpool(page)

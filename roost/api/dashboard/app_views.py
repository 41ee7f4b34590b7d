"""An app's page: the Overview, Releases and Builds tabs (a build's output live while it runs)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from roost.api.dashboard import overview
from roost.api.dashboard.tabs import tab_page
from roost.api.dashboard.web import to_login, viewer
from roost.api.deps import IdPath, PlatformDep, SessionDep
from roost.api.routers import deploys, releases
from roost.api.routers.apps import app_out, maintainer_out
from roost.core import apps
from roost.errors import NotFound
from roost.monitor.perf import query
from roost.orchestration import buildlogs
from roost.store.base import utcnow
from roost.store.models import Build

router = APIRouter(include_in_schema=False)
TOP_ENDPOINTS = 5


@router.get("/apps/{app}", response_class=HTMLResponse)
def app_page(app: str, request: Request, session: SessionDep, ctx: PlatformDep) -> Response:
    """Overview: URL, domains, maintainers, last deploy, busiest endpoints."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    found = apps.get(session, app)
    listed = releases.list_releases(app, session, who.actor)
    last = next((r for r in listed if r["current"]), listed[0] if listed else None)
    row = next((r for r in overview.apps_overview(session, ctx, only=app)), None)
    endpoints = query.endpoint_table(session, app, utcnow() - timedelta(hours=1))[:TOP_ENDPOINTS]
    return tab_page(request, session, who, app, "overview", "tab_overview.html", {
        "web_url": app_out(found, ctx).web_url, "row": row, "last": last,
        "domains": [f"{app}.{ctx.settings.base_domain}",
                    *(found.settings or {}).get("domains", [])],
        "maintainers": [maintainer_out(m, session) for m in found.maintainers],
        "endpoints": endpoints})


@router.get("/apps/{app}/releases", response_class=HTMLResponse)
def releases_tab(app: str, request: Request, session: SessionDep) -> Response:
    """Releases with commit, author and time; rollback to any earlier one."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    return tab_page(request, session, who, app, "releases", "tab_releases.html",
                    {"releases": releases.list_releases(app, session, who.actor)})


@router.get("/apps/{app}/builds", response_class=HTMLResponse)
def builds_tab(app: str, request: Request, session: SessionDep) -> Response:
    """The app's builds, newest first."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    return tab_page(request, session, who, app, "builds", "tab_builds.html",
                    {"builds": deploys.list_builds(app, session, who.actor)})


@router.get("/apps/{app}/builds/{build_id}", response_class=HTMLResponse)
def build_page(app: str, build_id: IdPath, request: Request, session: SessionDep,
               ctx: PlatformDep) -> Response:
    """One build's output: whole when it is done, followed live while it runs."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    found = apps.get(session, app)
    build = session.scalar(select(Build).where(Build.id == build_id, Build.app_id == found.id))
    if build is None:
        raise NotFound(f"{app} has no build #{build_id}; the Builds tab lists them")
    lines, offset = buildlogs.read_from(ctx.settings.home, app, build_id, 0)
    if not lines and offset == 0 and build.output_tail:
        lines = build.output_tail.split("\n")  # older builds kept only their last lines
    return tab_page(request, session, who, app, "builds", "tab_build.html",
                    {"build": build, "lines": lines, "offset": offset})

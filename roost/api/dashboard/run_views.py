"""An app's running side: the Processes, Config and Logs tabs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from roost.api.dashboard.tabs import tab_page
from roost.api.dashboard.web import Viewer, to_login, viewer
from roost.api.deps import PlatformDep, SessionDep
from roost.api.routers import config, runtime
from roost.core import apps, audit, releases
from roost.orchestration import addons
from roost.orchestration.platform import Platform

router = APIRouter(include_in_schema=False)
LOG_LINES = 200


def _types(session: Session, app: str, procs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each process type: its command, how many should run, how many are up."""
    found = apps.get(session, app)
    current = releases.current(session, found)
    commands = dict(current.process_types) if current is not None else {}
    counts: dict[str, int] = {}
    for p in procs:
        counts[str(p["type"])] = counts.get(str(p["type"]), 0) + 1
    formation = {**counts, **(found.formation or {})}
    return [{"name": t, "command": commands.get(t, ""), "count": formation.get(t, 0),
             "up": sum(1 for p in procs if p["type"] == t and p["state"] == "up")}
            for t in sorted(set(commands) | set(formation))]


@router.get("/apps/{app}/processes", response_class=HTMLResponse)
def processes_tab(app: str, request: Request, session: SessionDep, ctx: PlatformDep
                  ) -> Response:
    """The formation (scale, restart) and each process's state."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    procs = runtime.ps(app, session, ctx, who.actor)
    return tab_page(request, session, who, app, "processes", "tab_processes.html",
                    {"procs": procs, "types": _types(session, app, procs)})


def config_page(request: Request, session: Session, ctx: Platform, who: Viewer, app: str,
                reveal: bool) -> Response:
    """The Config tab, masked or revealed."""
    values = config.get_config(app, session, ctx, who.actor, reveal=reveal)
    return tab_page(request, session, who, app, "config", "tab_config.html", {
        "values": values, "revealed": reveal, "owned": addons.owned_keys(ctx, app)})


@router.get("/apps/{app}/config", response_class=HTMLResponse)
def config_tab(app: str, request: Request, session: SessionDep, ctx: PlatformDep) -> Response:
    """Config vars, masked; set and unset them."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    return config_page(request, session, ctx, who, app, reveal=False)


def reveal(request: Request, session: Session, ctx: Platform, who: Viewer, app: str
           ) -> Response:
    """Config vars in clear, recorded in the audit log (called by the reveal form)."""
    apps.get(session, app)
    audit.record(session, who.actor, "config.reveal", "revealed config vars in the dashboard",
                 app=app)
    return config_page(request, session, ctx, who, app, reveal=True)


@router.get("/apps/{app}/logs", response_class=HTMLResponse)
def logs_tab(app: str, request: Request, session: SessionDep, ctx: PlatformDep,
             source: str = Query(default="", max_length=50)) -> Response:
    """The last lines of the app's log, then new ones live."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    apps.get(session, app)
    lines = ctx.runtime.logs.tail(app, LOG_LINES, source or None) if ctx.runtime else []
    procs = runtime.ps(app, session, ctx, who.actor)
    sources = sorted({"roost", "app", *(str(p["type"]) for p in procs),
                      *(str(p["name"]) for p in procs)})
    return tab_page(request, session, who, app, "logs", "tab_logs.html",
                    {"lines": lines, "source": source, "sources": sources})

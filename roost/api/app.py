"""The control plane's FastAPI application: REST API, dashboard and ingest endpoints."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from roost import __version__
from roost.api import errors
from roost.api.dashboard.routes import ROUTERS as DASHBOARD
from roost.api.dashboard.web import error_page
from roost.api.routers import (
    addons,
    apps,
    assets,
    config,
    deploys,
    dns,
    domains,
    email,
    forge_hooks,
    git,
    health,
    hosts,
    limits,
    mailgun,
    perf,
    pg,
    pg_backups,
    releases,
    runtime,
    uptime,
    vulns,
)
from roost.orchestration.platform import Platform
from roost.orchestration.services import perf_router


def create_app(ctx: Platform) -> FastAPI:
    """Build the FastAPI app for a running platform."""
    app = FastAPI(
        title="Roost",
        version=__version__,
        description="Control plane API of Roost, a self-hosted platform for web applications. "
        "Every endpoint except /api/v1/health needs `Authorization: Bearer <token>`.",
    )
    app.state.ctx = ctx
    errors.install(app, html=error_page)
    # First: Starlette tries routes in order, and sending is the hottest path of all.
    app.include_router(mailgun.router)
    for module in (health, apps, config, deploys, releases, runtime, limits, assets, perf,
                   vulns, uptime, addons, pg, pg_backups, forge_hooks, email, dns,
                   domains, hosts):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(git.router)
    app.include_router(forge_hooks.receive_router)
    app.include_router(perf_router(ctx))
    for dashboard in DASHBOARD:
        app.include_router(dashboard)
    # What exists now (the modules, routes, models: several hundred thousand objects) lives
    # as long as the process: out of the collector's sight, a full collection no longer
    # walks it, which cost a request that triggered one about 100 ms.
    gc.freeze()
    return app

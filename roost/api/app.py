"""The control plane's FastAPI application: REST API, dashboard and ingest endpoints."""

from __future__ import annotations

from fastapi import FastAPI

from roost import __version__
from roost.api import errors
from roost.api.dashboard import app_views, uptime_views, views
from roost.api.routers import (
    addons,
    apps,
    assets,
    config,
    deploys,
    health,
    hosts,
    limits,
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
    errors.install(app)
    for module in (health, apps, config, deploys, releases, runtime, limits, assets, perf,
                   vulns, uptime, addons, pg, pg_backups, hosts):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(perf_router(ctx))
    app.include_router(views.router)
    app.include_router(app_views.router)
    app.include_router(uptime_views.router)
    return app

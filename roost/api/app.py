"""The control plane's FastAPI application: REST API, dashboard and ingest endpoints."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from roost import __version__
from roost.api import errors
from roost.api.dashboard import app_views, uptime_views, views
from roost.api.routers import (
    apps,
    assets,
    config,
    deploys,
    health,
    limits,
    perf,
    releases,
    runtime,
    uptime,
    vulns,
)
from roost.context import Context


def _service_routers() -> list[Callable[[Context], tuple[APIRouter, str]]]:
    from roost import services

    return [services.perf_router]


def create_app(ctx: Context) -> FastAPI:
    """Build the FastAPI app for a running platform context."""
    app = FastAPI(
        title="Roost",
        version=__version__,
        description="Control plane API of Roost, a self-hosted platform for web applications. "
        "Every endpoint except /api/v1/health needs `Authorization: Bearer <token>`.",
    )
    app.state.ctx = ctx
    errors.install(app)
    for module in (health, apps, config, deploys, releases, runtime, limits, assets, perf,
                   vulns, uptime):
        app.include_router(module.router, prefix="/api/v1")
    for make in _service_routers():
        router, prefix = make(ctx)
        app.include_router(router, prefix=prefix)
    app.include_router(views.router)
    app.include_router(app_views.router)
    app.include_router(uptime_views.router)
    return app

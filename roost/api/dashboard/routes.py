"""Every router of the dashboard, in the order the app includes them."""

from __future__ import annotations

from fastapi import APIRouter

from roost.api.dashboard import (
    actions,
    app_views,
    live,
    mail_views,
    perf_views,
    run_views,
    uptime_views,
    views,
    vuln_views,
)

ROUTERS: list[APIRouter] = [views.router, app_views.router, run_views.router,
                            perf_views.router, vuln_views.router, uptime_views.router,
                            mail_views.router, live.router, actions.router]

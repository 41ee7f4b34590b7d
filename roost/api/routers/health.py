"""GET /api/v1/health: liveness of the platform (no token needed)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from roost import __version__
from roost.api.deps import ActorDep, PlatformDep
from roost.api.schemas import HealthOut, InstanceOut
from roost.monitor.uptime.service import liveness as uptime_liveness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, response_model_exclude_unset=True)
def health(ctx: PlatformDep) -> dict[str, Any]:
    """Report whether the control plane and its store answer, with each service's liveness."""
    db_ok = True
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any driver failure means the store is down; say so, don't 500
        db_ok = False
    body: dict[str, Any] = {"status": "ok" if db_ok else "degraded", "version": __version__,
                            "store": "ok" if db_ok else "unreachable"}
    if db_ok:
        with ctx.sessions() as session:
            body["uptime"] = asdict(uptime_liveness(session))
    return body


@router.get("/instances", response_model=list[InstanceOut])
def instances(ctx: PlatformDep, _actor: ActorDep) -> list[dict[str, Any]]:
    """The control-plane instances sharing this store, live ones first, and what each runs."""
    if ctx.cluster is None:
        return []
    return [asdict(found) for found in ctx.cluster.view()]

"""GET /api/v1/health: liveness of the platform (no token needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from roost import __version__
from roost.api.deps import ContextDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(ctx: ContextDep) -> dict[str, Any]:
    """Report whether the control plane and its store answer, with each service's liveness."""
    db_ok = True
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any driver failure means the store is down; say so, don't 500
        db_ok = False
    body: dict[str, Any] = {"status": "ok" if db_ok else "degraded", "version": __version__,
                            "store": "ok" if db_ok else "unreachable"}
    for name, service in ctx.services.items():
        liveness = getattr(service, "liveness", None)
        if callable(liveness):
            body[name] = liveness()
    return body

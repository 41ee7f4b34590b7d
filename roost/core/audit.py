"""The audit log: who changed what, when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.store.models import AuditEntry


def record(
    session: Session, actor: str, action: str, summary: str, app: str | None = None,
    **detail: Any,
) -> None:
    """Add an audit entry in the caller's transaction."""
    session.add(AuditEntry(actor=actor, action=action, app_name=app, summary=summary,
                           detail=detail))


def entries(session: Session, app: str | None = None, limit: int = 100) -> list[AuditEntry]:
    """The newest audit entries, optionally for one app."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if app is not None:
        query = query.where(AuditEntry.app_name == app)
    return list(session.scalars(query))

"""Dashboard logins: a revocable session token per login, never the API token itself.

The browser's cookie holds a random session token; the store keeps only its SHA-256, the
API token it was opened with, and when it expires. Logging out revokes it at once, and
deleting the API token ends every session opened with it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core.secrets import hash_token
from roost.store.base import utcnow
from roost.store.models import ApiToken
from roost.store.models.sessions import DashboardSession

LIFETIME = timedelta(days=7)


def start(session: Session, api_token: ApiToken, lifetime: timedelta = LIFETIME) -> str:
    """Open a session for the holder of ``api_token``; return its token (seen only now)."""
    token = "rds_" + secrets.token_urlsafe(32)
    session.add(DashboardSession(token_sha256=hash_token(token), api_token_id=api_token.id,
                                 actor=api_token.name, expires_at=utcnow() + lifetime))
    session.flush()
    return token


def verify(session: Session, token: str) -> DashboardSession | None:
    """The live session for ``token``: not revoked, not expired; else None."""
    if not token:
        return None
    found = session.scalar(select(DashboardSession).where(
        DashboardSession.token_sha256 == hash_token(token)))
    now = utcnow()
    if found is None or found.revoked_at is not None or found.expires_at <= now:
        return None
    if session.get(ApiToken, found.api_token_id) is None:  # the API token is gone
        return None
    found.last_used_at = now
    return found


def revoke(session: Session, token: str) -> bool:
    """End the session for ``token``; whether there was a live one."""
    found = verify(session, token)
    if found is not None:
        found.revoked_at = utcnow()
    return found is not None

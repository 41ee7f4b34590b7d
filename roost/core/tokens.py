"""API tokens: creation and verification."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core.secrets import hash_token, new_token
from roost.store.base import utcnow
from roost.store.models import ApiToken


def create(session: Session, name: str) -> str:
    """Create a token and return it in clear (the only time it is seen)."""
    token = new_token()
    session.add(ApiToken(name=name, token_sha256=hash_token(token)))
    session.flush()
    return token


def verify(session: Session, token: str) -> ApiToken | None:
    """The token's record if ``token`` is valid, else None."""
    if not token:
        return None
    found = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == hash_token(token)))
    if found is not None:
        found.last_used_at = utcnow()
    return found


def exists(session: Session) -> bool:
    """Whether any token has been created."""
    return session.scalar(select(ApiToken.id).limit(1)) is not None

"""FastAPI dependencies: the platform context, a store session per request, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from roost.core import tokens
from roost.errors import Unauthorized
from roost.orchestration.platform import Platform
from roost.store.session import transaction

SESSION_COOKIE = "roost_session"


async def get_platform(request: Request) -> Platform:
    """The platform stored on the FastAPI app (async: FastAPI would run a plain function in
    its thread pool, two thread hand-overs per request for an attribute read)."""
    platform: Platform = request.app.state.ctx
    return platform


def get_session(ctx: Annotated[Platform, Depends(get_platform)]) -> Iterator[Session]:
    """A store session in one transaction: committed on success, rolled back on error."""
    with transaction(ctx.sessions) as session:
        yield session


def bearer_token(request: Request) -> str:
    """The token from the Authorization header (empty when there is none)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return ""


def get_actor(request: Request, ctx: Annotated[Platform, Depends(get_platform)]) -> str:
    """The name of the authenticated caller; 401 when the token is missing or wrong.

    Only the Authorization header counts: the dashboard's cookie holds a session token
    for the dashboard's pages, never an API credential.
    """
    token = bearer_token(request)
    if not token:
        raise Unauthorized("missing API token: send 'Authorization: Bearer <token>' "
                           "(`roost login URL --token T` sets it up for the CLI)")
    with ctx.sessions.begin() as session:
        found = tokens.verify(session, token)
        if found is None:
            raise Unauthorized("invalid API token: check ROOST_TOKEN or run `roost login`")
        return found.name


# scope="function": the transaction commits before the answer is sent. With FastAPI's
# default (the request's scope) it committed after, so a client that acted on a 2xx at once
# (a browser following the login's redirect) could find nothing stored yet, and a commit
# that failed came after a success had already been answered.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ActorDep = Annotated[str, Depends(get_actor)]
PlatformDep = Annotated[Platform, Depends(get_platform)]
# Ids in paths: positive and within a 32-bit column, so no store overflows on odd input.
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]

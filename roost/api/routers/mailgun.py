"""The Mailgun-compatible sending API: ``POST /v3/DOMAIN/messages`` (and ``messages.mime``).

Existing Mailgun client code works unchanged with ``MAILGUN_API_BASE`` as its base URL:
Basic auth ``api:KEY``, form or multipart fields, and Mailgun's answers, errors included
(``{"message": "..."}`` with 400, 401, 411 or 413). The message is committed to the queue
before the answer is sent.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from roost.api.deps import PlatformDep
from roost.mail import compose, domains, queue, writes
from roost.mail.queue import Refused, Submission
from roost.orchestration.platform import Platform

router = APIRouter(tags=["mailgun"])
# The form may carry base64 overhead and field names around a 25 MB message.
MAX_BODY = queue.MAX_SIZE + 1024 * 1024


class Queued(BaseModel):
    """Mailgun's answer to an accepted message."""

    id: str
    message: str = "Queued. Thank you."


class MailgunError(BaseModel):
    """Mailgun's error body."""

    message: str


ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": MailgunError} for code in (400, 401, 411, 413)}


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status,
                        headers={"WWW-Authenticate": 'Basic realm="MG API"'}
                        if status == 401 else None)


def _api_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, key = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return key if user == "api" and key else None


_OWNERS = domains.Lookups(30.0)


def _owner(ctx: Platform, domain: str, key: str) -> tuple[str, bool] | None:
    generation = domains.generation()
    with ctx.sessions.begin() as session:
        row = domains.by_api_key(session, domain, key)
        found = (row.app, bool(row.webhook_url)) if row else None
    _OWNERS.put((domain, domains.digest(key)), found, generation)
    return found


async def _owner_of(ctx: Platform, domain: str, key: str) -> tuple[str, bool] | None:
    """The app and webhook flag of an API key, from the cache when it was just checked."""
    hit, cached = _OWNERS.get((domain, domains.digest(key)))
    if hit:
        return cached  # type: ignore[return-value]
    return await run_in_threadpool(_owner, ctx, domain, key)


async def _read(request: Request, domain: str, ctx: Platform
                ) -> tuple[tuple[str, bool], list[tuple[str, str]], list[compose.Upload],
                           bytes | None] | JSONResponse:
    key = _api_key(request)
    if key is None:
        return _refuse(401, "Forbidden: authenticate with Basic auth as api:MAILGUN_API_KEY")
    owner = await _owner_of(ctx, domain, key)
    if owner is None:
        return _refuse(401, f"Forbidden: that API key does not belong to domain {domain}")
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return _refuse(411, "send the form with a Content-Length header")
    if int(length) > MAX_BODY:
        return _refuse(413, "the message is over the 25 MB limit: send large files as links")
    form = await request.form(max_files=1000, max_fields=5000, max_part_size=MAX_BODY)
    fields: list[tuple[str, str]] = []
    uploads: list[compose.Upload] = []
    mime: bytes | None = None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            if name == "message":
                mime = data
            elif name in ("attachment", "inline"):
                uploads.append(compose.Upload(value.filename or "attachment",
                                              value.content_type or "application/octet-stream",
                                              data, inline=name == "inline"))
        else:
            fields.append((name, value))
    await form.close()
    return owner, fields, uploads, mime


def _accept(ctx: Platform, sub: Submission, webhook: bool) -> str:
    with writes.writing(ctx.sessions) as session:
        return queue.accept(session, sub, webhook=webhook)


async def _queue(ctx: Platform, sub: Submission, webhook: bool) -> Queued | JSONResponse:
    try:
        if ctx.mail is not None:  # grouped with other messages into one commit
            message_id = await ctx.mail.intake.accept(sub, webhook)
        else:
            message_id = await run_in_threadpool(_accept, ctx, sub, webhook)
    except Refused as exc:
        return _refuse(exc.http, exc.message)
    return Queued(id=message_id)


@router.post("/v3/{domain}/messages", response_model=Queued, responses=ERRORS)
async def send_message(domain: str, request: Request, ctx: PlatformDep
                       ) -> Queued | JSONResponse:
    """Send a message built from Mailgun's form fields."""
    read = await _read(request, domain.lower(), ctx)
    if isinstance(read, JSONResponse):
        return read
    (app, webhook), fields, uploads, _ = read
    try:
        made = compose.compose(fields, uploads)
    except Refused as exc:
        return _refuse(exc.http, exc.message)
    return await _queue(ctx, Submission(
        app=app, domain=domain.lower(), envelope_from=made.sender, recipients=made.recipients,
        raw=made.raw, source="api", tags=made.tags, variables=made.variables,
        testmode=made.testmode), webhook)


@router.post("/v3/{domain}/messages.mime", response_model=Queued, responses=ERRORS)
async def send_mime(domain: str, request: Request, ctx: PlatformDep) -> Queued | JSONResponse:
    """Send a ready-made MIME message (``message`` file) to the ``to`` recipients."""
    read = await _read(request, domain.lower(), ctx)
    if isinstance(read, JSONResponse):
        return read
    (app, webhook), fields, _, mime = read
    if mime is None:
        return _refuse(400, "message parameter is missing: attach the MIME message as a file")
    recipients = compose.addresses([v for k, v in fields if k == "to"])
    if not recipients:
        return _refuse(400, "to parameter is missing")
    sender = queue.header_from(mime)
    return await _queue(ctx, Submission(
        app=app, domain=domain.lower(), envelope_from=sender, recipients=recipients, raw=mime,
        source="api", tags=[v for k, v in fields if k == "o:tag"][:3],
        variables={k[2:]: v for k, v in fields if k.startswith("v:")},
        testmode=any(v.lower() in compose.TRUE for k, v in fields if k == "o:testmode")),
        webhook)

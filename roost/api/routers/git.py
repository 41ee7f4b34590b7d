"""`git push` over smart HTTP: ``/git/APP.git/…`` served by git's own `git http-backend`.

Authentication is HTTP Basic with an API token as the password (the credential helper
that `roost login` installs supplies it), or a Bearer token. A push (``git-receive-pack``)
gets its own channel to Roost's pre-receive hook, which runs the deploy pipeline.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from roost.api.deps import PlatformDep, bearer_token
from roost.core import apps, tokens, validate
from roost.errors import NotFound
from roost.gitserve import backend, repos
from roost.gitserve.pushes import PushChannel
from roost.orchestration.platform import Platform

router = APIRouter(tags=["git"])
REALM = 'Basic realm="Roost", charset="UTF-8"'


class PassThroughResponse(StreamingResponse):
    """A streamed answer that leaves the request body to the CGI feeder.

    Starlette's StreamingResponse listens for a disconnect while it streams by calling
    ``receive()``, which would take (and drop) the chunks of a push still arriving: a pack
    sent in chunks (over 1 MB) would reach git cut up.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the status, the headers and the body as it comes; nothing else is read."""
        try:
            await self.stream_response(send)
        except OSError:
            pass  # the client went away; the backend is reaped below
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()


def _token(request: Request) -> str:
    """The API token from Basic auth (the password, else the user name) or a Bearer header."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return bearer_token(request)
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return password or user


def _refuse(message: str) -> Response:
    # git asks its credential helper again on 401 and then reports "Authentication failed".
    return PlainTextResponse(message + "\n", status_code=401,
                             headers={"WWW-Authenticate": REALM})


def _actor(ctx: Platform, token: str) -> str | None:
    with ctx.sessions.begin() as session:
        found = tokens.verify(session, token)
        return found.name if found else None


def _app_id(ctx: Platform, name: str) -> int:
    with ctx.sessions.begin() as session:
        return apps.get(session, name).id


@router.api_route("/git/{repo}/{path:path}", methods=["GET", "POST"], include_in_schema=False)
async def smart_http(repo: str, path: str, request: Request, ctx: PlatformDep) -> Response:
    """One request of git's smart HTTP protocol for an app's repository."""
    name = repo.removesuffix(".git")
    if not repo.endswith(".git") or not validate.APP_NAME.fullmatch(name):
        return PlainTextResponse(f"no repository {repo!r}: an app's remote is "
                                 "URL/git/APP.git (`roost git remote APP` adds it)\n",
                                 status_code=404)
    query = request.url.query
    backend.check_path(path, request.method, query)
    token = _token(request)
    if not token:
        return _refuse("Roost needs your API token: run `roost login URL --token T` (it "
                       "installs git's credential helper for Roost)")
    actor = await run_in_threadpool(_actor, ctx, token)
    if actor is None:
        return _refuse("invalid API token: run `roost login URL --token T` again")
    try:
        app_id = await run_in_threadpool(_app_id, ctx, name)
    except NotFound as exc:  # git shows a plain-text body as "remote: …"
        return PlainTextResponse(f"{exc}; create it with `roost apps create {name}`\n",
                                 status_code=404)
    repo_path = await run_in_threadpool(repos.ensure_repo, ctx.settings.home, app_id)
    channel = None
    if path == "git-receive-pack":
        channel = PushChannel(ctx, name, actor, repo_path)
        await channel.open()
    headers = request.headers
    req = backend.CgiRequest(
        method=request.method, path_info=f"/{repos.repo_name(app_id)}/{path}", query=query,
        content_type=headers.get("content-type", ""),
        content_length=headers.get("content-length", ""),
        content_encoding=headers.get("content-encoding", ""),
        git_protocol=headers.get("git-protocol", ""), remote_user=actor,
        remote_addr=request.client.host if request.client else "",
        extra_env=channel.env if channel else {})
    try:
        answer = await backend.run(ctx.settings.home, req, request.stream())
    except BaseException:
        if channel is not None:
            await channel.close()
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.body:
                yield chunk
        finally:
            if channel is not None:
                await channel.close()

    return PassThroughResponse(body(), status_code=answer.status, headers=answer.headers)

"""Forge webhooks: set them up (``/api/v1/apps/APP/hooks``) and receive pushes
(``/hooks/PROVIDER/APP``, signed by the forge, no API token)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, PlatformDep
from roost.errors import InvalidInput
from roost.gitserve import forge, forgehooks
from roost.orchestration import deploys

router = APIRouter(tags=["hooks"])  # under /api/v1
receive_router = APIRouter(tags=["hooks"])  # at the root: forges call it
MAX_PAYLOAD = 5 * 1024 * 1024


class HookIn(BaseModel):
    """Body of POST /apps/{app}/hooks."""

    model_config = ConfigDict(extra="forbid")
    provider: str = Field(max_length=10, description="github, gitlab or gitea")
    branch: str = Field(default="main", max_length=200, description="the branch that deploys")


class HookOut(BaseModel):
    """A forge webhook; ``secret`` is shown only when it was just made."""

    provider: str
    branch: str
    path: str
    secret: str = ""
    last_delivery_at: str = ""
    last_result: str = ""


@router.post("/apps/{app}/hooks", status_code=201)
async def set_hook(app: str, body: HookIn, ctx: PlatformDep, actor: ActorDep) -> HookOut:
    """Create the app's webhook for a forge, or give it a new secret."""
    info = await run_in_threadpool(forgehooks.configure, ctx, app, body.provider, body.branch,
                                   actor)
    return HookOut(**asdict(info))


@router.get("/apps/{app}/hooks")
async def list_hooks(app: str, ctx: PlatformDep, _: ActorDep) -> list[HookOut]:
    """The app's webhooks (without secrets)."""
    return [HookOut(**asdict(h)) for h in await run_in_threadpool(forgehooks.list_hooks, ctx, app)]


@router.delete("/apps/{app}/hooks/{provider}", status_code=204)
async def remove_hook(app: str, provider: str, ctx: PlatformDep, actor: ActorDep) -> None:
    """Delete the app's webhook for a forge."""
    await run_in_threadpool(forgehooks.remove, ctx, app, forge.check_provider(provider), actor)


async def _payload(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PAYLOAD:
            raise InvalidInput(f"webhook payload over {MAX_PAYLOAD // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


@receive_router.post("/hooks/{provider}/{app}", status_code=202)
async def receive(provider: str, app: str, request: Request, ctx: PlatformDep
                  ) -> JSONResponse:
    """A forge's push event: checked against the hook's secret, then fetched and deployed."""
    forge.check_provider(provider)
    body = await _payload(request)
    hook = await run_in_threadpool(forgehooks.receiver, ctx, app, provider)
    forge.verify(provider, hook.secret, request.headers, body)
    event = forge.event_name(provider, request.headers)
    if not forge.is_push(provider, event):
        return _answer(200, f"ignored: {event or 'unnamed'} event (only pushes deploy)")
    push = forge.parse_push(provider, body)
    if push is None or push.branch != hook.branch:
        what = f"a push to {push.branch}" if push else "a tag push or branch deletion"
        await run_in_threadpool(forgehooks.record, ctx, hook.hook_id, f"ignored {what}")
        return _answer(200, f"ignored: {what}; this hook deploys {hook.branch}")
    actor = f"{provider} webhook"
    await run_in_threadpool(deploys.acquire_lock, ctx, app, deploys.holder(actor))
    forgehooks.start_deploy(ctx, app, hook.app_id, provider, hook.hook_id, push)
    return _answer(202, f"deploying {push.sha[:12]} of {app}; `roost builds {app}` shows it",
                   commit=push.sha)


def _answer(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status)

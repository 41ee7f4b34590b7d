"""What the dashboard's forms do: each calls the API function the CLI's command reaches, as
the logged-in viewer (so the audit log names them), after the session and CSRF checks of
:func:`roost.api.dashboard.web.act`; the page it returns to shows the outcome in one line."""

from __future__ import annotations

import hmac
from datetime import date
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from roost.api.dashboard import run_views
from roost.api.dashboard.web import act, field, forbidden, same_origin, to_login, viewer
from roost.api.deps import IdPath, PlatformDep
from roost.api.routers import config, releases, runtime, uptime, vulns
from roost.api.schemas import ConfigSet, ConfigUnset
from roost.errors import InvalidInput
from roost.orchestration.platform import Platform
from roost.store.session import transaction

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)


def _invalid(exc: ValidationError) -> InvalidInput:
    errors = exc.errors()
    if not errors:
        return InvalidInput("the form has an invalid value")
    where = ".".join(str(p) for p in errors[0]["loc"])
    return InvalidInput(f"{where or 'form'}: {errors[0]['msg']}")


def _parsed(model: type[M], **values: Any) -> M:
    """A form's values as the API's body model; a bad value is one clear line."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _next(form: FormData, default: str) -> str:
    """A same-site path to return to (never another host)."""
    to = field(form, "next", default)
    return to if to.startswith("/") and not to.startswith("//") and "\\" not in to else default


@router.post("/apps/{app}/rollback")
async def rollback(app: str, request: Request, ctx: PlatformDep) -> Response:
    """Roll back to the release named in the form (confirmed in the page)."""
    async def work(actor: str, form: FormData) -> str:
        body = _parsed(releases.RollbackIn, release=field(form, "release") or None)
        done = await releases.rollback(app, body, ctx, actor)
        return f"Rolled back: v{done['version']} ({done['description']}) is {done['status']}."

    return await act(request, ctx, f"/apps/{app}/releases", work)


@router.post("/apps/{app}/restart")
async def restart(app: str, request: Request, ctx: PlatformDep) -> Response:
    """Restart one process type, or all."""
    async def work(actor: str, form: FormData) -> str:
        body = _parsed(runtime.RestartIn, type=field(form, "type") or None)
        done = await runtime.restart(app, body, ctx, actor)
        return f"Restarted {done['restarted']}."

    return await act(request, ctx, f"/apps/{app}/processes", work)


@router.post("/apps/{app}/scale")
async def scale(app: str, request: Request, ctx: PlatformDep) -> Response:
    """Set the number of processes of one type."""
    async def work(actor: str, form: FormData) -> str:
        kind, count = field(form, "type"), field(form, "count")
        if not kind or not count.isdigit() or int(count) > 100:
            raise InvalidInput("give a process type and a count from 0 to 100, e.g. web and 2")
        formation = await runtime.scale(app, {kind: int(count)}, ctx, actor)
        return "Scaled: " + " ".join(f"{k}={v}" for k, v in sorted(formation.items())) + "."

    return await act(request, ctx, f"/apps/{app}/processes", work)


def _config_change(ctx: Platform, app: str, actor: str, form: FormData, unset: bool) -> str:
    key = field(form, "key")
    try:
        with transaction(ctx.sessions) as session:
            if unset:
                done = config.unset_config(app, ConfigUnset(keys=[key]), session, ctx, actor)
            else:
                value = form.get("value", "")
                body = ConfigSet(vars={key: value if isinstance(value, str) else ""})
                done = config.set_config(app, body, session, ctx, actor)
    except ValidationError as exc:
        raise _invalid(exc) from None
    if done.error:
        raise InvalidInput(f"{key} was {'unset' if unset else 'set'}, but release "
                           f"v{done.release} did not start: {done.error}")
    if not done.changed:
        return f"{key} already had that value; nothing changed."
    made = f"; release v{done.release} is live" if done.release else ""
    return f"{'Unset' if unset else 'Set'} {key}{made}."


@router.post("/apps/{app}/config/set")
async def config_set(app: str, request: Request, ctx: PlatformDep) -> Response:
    """Set one config var (a new release is cut)."""
    async def work(actor: str, form: FormData) -> str:
        return await run_in_threadpool(_config_change, ctx, app, actor, form, False)

    return await act(request, ctx, f"/apps/{app}/config", work)


@router.post("/apps/{app}/config/unset")
async def config_unset(app: str, request: Request, ctx: PlatformDep) -> Response:
    """Unset one config var (a new release is cut)."""
    async def work(actor: str, form: FormData) -> str:
        return await run_in_threadpool(_config_change, ctx, app, actor, form, True)

    return await act(request, ctx, f"/apps/{app}/config", work)


@router.post("/apps/{app}/config/reveal")
async def config_reveal(app: str, request: Request, ctx: PlatformDep) -> Response:
    """Show the config vars in clear (CSRF-checked, recorded in the audit log)."""
    form = await request.form()

    def page() -> Response:
        with transaction(ctx.sessions) as session:
            who = viewer(request, session)
            if who is None:
                return to_login()
            if not same_origin(request) or not hmac.compare_digest(
                    field(form, "csrf"), who.csrf):
                return forbidden(request, "The form's security token is missing or stale. "
                                 "Reload the page and try again.")
            return run_views.reveal(request, session, ctx, who, app)

    return await run_in_threadpool(page)


@router.post("/apps/{app}/vulns/ignore")
async def vuln_ignore(app: str, request: Request, ctx: PlatformDep) -> Response:
    """Ignore an advisory with a reason, until a date (or for good)."""
    def ignore(actor: str, form: FormData) -> str:
        until = field(form, "until")
        try:
            body = vulns.IgnoreIn(id=field(form, "id"), reason=field(form, "reason"),
                                  until=date.fromisoformat(until) if until else None)
        except ValidationError as exc:
            raise _invalid(exc) from None
        except ValueError:
            raise InvalidInput(f"invalid date {until!r}: give YYYY-MM-DD") from None
        with transaction(ctx.sessions) as session:
            rule = vulns.add_ignore(app, body, session, actor)
        return f"Ignoring {rule['id']} " + (f"until {body.until}." if body.until else
                                            "with no end date.")

    async def work(actor: str, form: FormData) -> str:
        return await run_in_threadpool(ignore, actor, form)

    return await act(request, ctx, f"/apps/{app}/vulns", work)


@router.post("/incidents/{incident_id}/ack")
async def ack(incident_id: IdPath, request: Request, ctx: PlatformDep) -> Response:
    """Acknowledge an incident: reminders and escalation stop."""
    form = await request.form()

    def acknowledge(actor: str, _: FormData) -> str:
        with transaction(ctx.sessions) as session:
            done = uptime.ack(incident_id, session, actor)
        return f"Acknowledged incident #{done.id} of {done.app_name}."

    async def work(actor: str, form: FormData) -> str:
        return await run_in_threadpool(acknowledge, actor, form)

    return await act(request, ctx, _next(form, "/"), work)

"""What every dashboard page shares: templates, the logged-in viewer, CSRF checks, rendering
and the form-action helper that runs an API function as the viewer and reports back.

A viewer is the holder of a live dashboard session (:mod:`roost.core.logins`). Every POST
carries a CSRF token derived from the session's own secret token (HMAC), checked in constant
time; the session cookie is ``SameSite=Lax`` and ``HttpOnly``. Actions call the same router
functions the API serves to the CLI, with the viewer's name as the actor, so the audit log
records who did it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from roost.api.dashboard import format as fmt
from roost.api.deps import SESSION_COOKIE
from roost.core import logins
from roost.errors import RoostError
from roost.orchestration.platform import Platform

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
fmt.install(templates.env)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the actor recorded in the audit log, and the CSRF token of the session."""

    actor: str
    csrf: str


def csrf_for(session_token: str) -> str:
    """The CSRF token of a dashboard session: an HMAC keyed by the session's secret token."""
    return hmac.new(session_token.encode(), b"roost-dashboard-csrf", hashlib.sha256).hexdigest()


def viewer(request: Request, session: Session) -> Viewer | None:
    """The viewer of a request with a live dashboard session, else None."""
    token = request.cookies.get(SESSION_COOKIE, "")
    found = logins.verify(session, token)
    return Viewer(actor=found.actor, csrf=csrf_for(token)) if found is not None else None


def viewer_of(ctx: Platform, request: Request) -> Viewer | None:
    """:func:`viewer` in a short transaction of its own (for async handlers and streams)."""
    with ctx.sessions.begin() as session:
        return viewer(request, session)


def render(request: Request, template: str, data: dict[str, Any], status: int = 200
           ) -> HTMLResponse:
    """A page with the dashboard's security headers."""
    response = templates.TemplateResponse(request, template, data, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def to_login() -> Response:
    """Where a request without a session goes."""
    return RedirectResponse("/", status_code=303)


def same_origin(request: Request) -> bool:
    """Whether a POST's Origin (or Referer) header, when sent, names this server: its Host,
    or the host a proxy in front of it says the browser asked for (X-Forwarded-Host, which a
    page on another site cannot set)."""
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if not origin or origin == "null":
        return not origin
    hosts = {request.headers.get("host", ""),
             request.headers.get("x-forwarded-host", "").split(",")[0].strip()}
    return urlsplit(origin).netloc in hosts - {""}


def forbidden(request: Request, why: str) -> HTMLResponse:
    """A refused POST: nothing was changed."""
    return render(request, "refused.html", {"logged_in": False, "why": why}, status=403)


def error_page(request: Request, status: int, message: str) -> Response:
    """An error as a page, for a browser (the API answers JSON)."""
    return render(request, "refused.html", {"logged_in": False, "why": message,
                                            "status": status}, status=status)


def _signature(key: str, kind: str, message: str) -> str:
    return hmac.new(key.encode(), f"{kind}:{message}".encode(), hashlib.sha256).hexdigest()[:32]


def back(url: str, key: str, done: str = "", error: str = "") -> Response:
    """Redirect to ``url`` with a one-line message for the page to show, signed with the
    session's key so that a link from elsewhere cannot put words in the dashboard's mouth."""
    kind, message = ("done", done[:300]) if done else ("error", error[:300])
    query = urlencode({kind: message, "sig": _signature(key, kind, message)})
    return RedirectResponse(f"{url}?{query}", status_code=303)


def flash(request: Request, who: Viewer) -> dict[str, str]:
    """The page's ``done`` and ``error`` lines, when signed for this session."""
    params, out = request.query_params, {"done": "", "error": ""}
    for kind in out:
        message = params.get(kind, "")
        if message and hmac.compare_digest(params.get("sig", ""),
                                           _signature(who.csrf, kind, message)):
            out[kind] = message
    return out


Work = Callable[[str, FormData], Awaitable[str]]


async def act(request: Request, ctx: Platform, to: str, work: Work) -> Response:
    """Run a form action as the viewer: session and CSRF checked, RoostErrors shown on ``to``.

    ``work(actor, form)`` returns the line to show when it succeeds.
    """
    form = await request.form()
    who = await run_in_threadpool(viewer_of, ctx, request)
    if who is None:
        return to_login()
    given = str(form.get("csrf", ""))
    if not same_origin(request) or not hmac.compare_digest(given, who.csrf):
        return forbidden(request, "The form's security token is missing or stale (or the "
                         "request came from another site). Reload the page and try again.")
    try:
        done = await work(who.actor, form)
    except RoostError as exc:
        return back(to, who.csrf, error=exc.message)
    return back(to, who.csrf, done=done)


def field(form: FormData, name: str, default: str = "") -> str:
    """A text field of a form, stripped."""
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


def in_thread(fn: Callable[[], str]) -> Awaitable[str]:
    """Run a blocking action (store, runtime) off the event loop."""
    return run_in_threadpool(fn)

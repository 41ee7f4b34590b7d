"""Dashboard entry: log in with a token (session cookie), the apps overview, log out, and the
page script."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from roost.api.dashboard import overview
from roost.api.dashboard.web import HERE, flash, forbidden, render, same_origin, viewer
from roost.api.deps import SESSION_COOKIE, PlatformDep, SessionDep
from roost.core import logins, tokens

router = APIRouter(include_in_schema=False)
SCRIPT = (HERE / "static" / "dashboard.js").read_bytes()


def logged_in(request: Request, session: Session) -> bool:
    """Whether the request carries a live dashboard session."""
    return viewer(request, session) is not None


def _https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (directly or through a TLS proxy)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, ctx: PlatformDep) -> Response:
    """The apps overview, or the login form when there is no valid session."""
    who = viewer(request, session)
    if who is None:
        return render(request, "login.html", {"logged_in": False})
    rows = overview.apps_overview(session, ctx)
    return render(request, "apps.html", {
        "logged_in": True, "viewer": who, "apps": rows,
        "incidents": overview.open_incidents(session),
        **flash(request, who)})


@router.get("/static/dashboard.js")
def script() -> Response:
    """The dashboard's one script: local times, confirmations, live logs and builds."""
    return Response(SCRIPT, media_type="text/javascript",
                    headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: Annotated[str, Form()], session: SessionDep) -> Response:
    """Check the API token and start a session; the cookie holds the session's own token."""
    if not same_origin(request):
        return forbidden(request, "Log in from this server's own page.")
    found = tokens.verify(session, token.strip())
    if found is None:
        return render(request, "login.html",
                      {"logged_in": False, "error": "That token is not valid."}, status=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, logins.start(session, found), httponly=True,
                        samesite="lax", secure=_https(request),
                        max_age=int(logins.LIFETIME.total_seconds()))
    return response


@router.post("/logout")
async def logout(request: Request, ctx: PlatformDep) -> Response:
    """End the session: revoke it in the store and drop the cookie (CSRF-checked like any
    other form, so another site cannot sign the viewer out)."""
    form = await request.form()
    token = request.cookies.get(SESSION_COOKIE, "")

    def end() -> bool:
        with ctx.sessions.begin() as session:
            who = viewer(request, session)
            if who is not None and not hmac.compare_digest(str(form.get("csrf", "")), who.csrf):
                return False
            logins.revoke(session, token)
            return True

    if not same_origin(request) or not await run_in_threadpool(end):
        return forbidden(request, "The form's security token is missing or stale. Reload the "
                         "page and try again.")
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=_https(request))
    return response

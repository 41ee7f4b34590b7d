"""Dashboard pages: log in with a token (session cookie), then the list of apps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session

from roost.api.deps import SESSION_COOKIE, PlatformDep, SessionDep
from roost.api.routers.apps import app_out
from roost.core import apps, logins, tokens

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)

# Later subsystems add HTML sections to the dashboard home page (monitors, incidents, ...).
SECTIONS: list[Callable[[Request, Session], Markup]] = []


def logged_in(request: Request, session: Session) -> bool:
    """Whether the request carries a live dashboard session."""
    return logins.verify(session, request.cookies.get(SESSION_COOKIE, "")) is not None


def _https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (directly or through a TLS proxy)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, ctx: PlatformDep) -> Response:
    """The dashboard, or the login form when there is no valid session."""
    if not logged_in(request, session):
        return templates.TemplateResponse(request, "login.html", {"logged_in": False})
    listed = [app_out(a, ctx) for a in apps.list_all(session)]
    sections = [render(request, session) for render in SECTIONS]
    return templates.TemplateResponse(
        request, "apps.html", {"logged_in": True, "apps": listed, "sections": sections}
    )


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: Annotated[str, Form()], session: SessionDep) -> Response:
    """Check the API token and start a session; the cookie holds the session's own token."""
    found = tokens.verify(session, token.strip())
    if found is None:
        return templates.TemplateResponse(
            request, "login.html", {"logged_in": False, "error": "That token is not valid."},
            status_code=401,
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, logins.start(session, found), httponly=True,
                        samesite="lax", secure=_https(request),
                        max_age=int(logins.LIFETIME.total_seconds()))
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    """End the session: revoke it in the store and drop the cookie."""
    logins.revoke(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=_https(request))
    return response

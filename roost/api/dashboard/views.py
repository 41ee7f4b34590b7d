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
from roost.core import apps, tokens

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)

# Later subsystems add HTML sections to the dashboard home page (monitors, incidents, ...).
SECTIONS: list[Callable[[Request, Session], Markup]] = []


def logged_in(request: Request, session: Session) -> bool:
    """Whether the request carries a valid dashboard session."""
    token = request.cookies.get(SESSION_COOKIE, "")
    return bool(token) and tokens.verify(session, token) is not None


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
    """Check the token and start a session."""
    if tokens.verify(session, token.strip()) is None:
        return templates.TemplateResponse(
            request, "login.html", {"logged_in": False, "error": "That token is not valid."},
            status_code=401,
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, token.strip(), httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout() -> Response:
    """End the session."""
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response

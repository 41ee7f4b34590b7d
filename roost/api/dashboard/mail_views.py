"""Dashboard pages of an app's email: the inbox and log, and one message rendered.

A message's HTML is the app's (so, hostile): it is shown in an ``<iframe sandbox>`` through
``srcdoc``, which runs no script, submits no form and gets no access to the dashboard's
origin, and the page forbids everything but inline styles and data images by CSP.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from roost.api.dashboard.views import logged_in, templates
from roost.api.deps import IdPath, PlatformDep, SessionDep
from roost.core import apps
from roost.mail import domains, events, inbox

router = APIRouter(include_in_schema=False)
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; "
       "form-action 'self'")


@router.get("/apps/{app}/mail", response_class=HTMLResponse)
def mail_page(app: str, request: Request, session: SessionDep) -> Response:
    """The app's captured mail and its latest mail events."""
    if not logged_in(request, session):
        return RedirectResponse("/", status_code=303)
    apps.get(session, app)
    row = domains.row_of_app(session, app)
    return templates.TemplateResponse(request, "mail.html", {
        "logged_in": True, "app": app, "domain": row.domain,
        "inbox": inbox.inbox(session, app), "log": events.log(session, app, limit=50)})


@router.get("/apps/{app}/mail/{pk}", response_class=HTMLResponse)
def message_page(app: str, pk: IdPath, request: Request, session: SessionDep,
                 ctx: PlatformDep) -> Response:
    """One message: headers, DKIM result, HTML (sandboxed), text, attachments, events."""
    if not logged_in(request, session):
        return RedirectResponse("/", status_code=303)
    found = inbox.view(session, ctx.cipher, app, pk)
    page = templates.TemplateResponse(request, "mail_message.html", {
        "logged_in": True, "app": app, "m": found})
    page.headers["Content-Security-Policy"] = CSP
    return page

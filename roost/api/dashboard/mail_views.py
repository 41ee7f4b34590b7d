"""Dashboard pages of an app's email: the inbox and log, and one message rendered.

A message's HTML is the app's (so, hostile): it is shown in an ``<iframe sandbox>`` through
``srcdoc``, which runs no script, submits no form and gets no access to the dashboard's
origin, and the page forbids everything but inline styles and data images by CSP.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from roost.api.dashboard.web import render, to_login, viewer
from roost.api.deps import IdPath, PlatformDep, SessionDep
from roost.core import apps
from roost.mail import domains, events, inbox

router = APIRouter(include_in_schema=False)
# The dashboard's own script and styles load; the message's HTML (in the sandboxed srcdoc
# frame, which inherits this policy) runs no script and loads nothing from anywhere.
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; "
       "style-src 'unsafe-inline'; img-src data:; frame-src 'self'; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'")


@router.get("/apps/{app}/mail", response_class=HTMLResponse)
def mail_page(app: str, request: Request, session: SessionDep) -> Response:
    """The app's captured mail and its latest mail events."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    apps.get(session, app)
    row = domains.row_of_app(session, app)
    return render(request, "mail.html", {
        "logged_in": True, "viewer": who, "app": app, "domain": row.domain,
        "inbox": inbox.inbox(session, app), "log": events.log(session, app, limit=50)})


@router.get("/apps/{app}/mail/{pk}", response_class=HTMLResponse)
def message_page(app: str, pk: IdPath, request: Request, session: SessionDep,
                 ctx: PlatformDep) -> Response:
    """One message: headers, DKIM result, HTML (sandboxed), text, attachments, events."""
    who = viewer(request, session)
    if who is None:
        return to_login()
    found = inbox.view(session, ctx.cipher, app, pk)
    page = render(request, "mail_message.html", {
        "logged_in": True, "viewer": who, "app": app, "m": found})
    page.headers["Content-Security-Policy"] = CSP
    return page

"""An app's email: log, capture inbox, one message, suppressions, webhook, DNS, DKIM keys."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from roost.api.deps import ActorDep, IdPath, PlatformDep
from roost.core import apps, audit
from roost.errors import InvalidInput
from roost.mail import dkim, dnscheck, domains, events, inbox, webhooks
from roost.mail.deliver import helo_name
from roost.orchestration.mailflow import webhook_refusal
from roost.orchestration.platform import Platform

router = APIRouter(tags=["email"])


class EventOut(BaseModel):
    """One event of `roost email log`."""

    id: str
    time: str
    event: str
    severity: str
    recipient: str
    reason: str
    code: int
    detail: str
    message_id: str
    subject: str
    message: int | None


class InboxOut(BaseModel):
    """One captured message."""

    id: int
    time: str
    message_id: str
    sender: str
    to: list[str]
    subject: str
    size: int


class AttachmentOut(BaseModel):
    """A file a message carries."""

    filename: str
    content_type: str
    size: int


class MessageOut(BaseModel):
    """One message, as the dashboard renders it."""

    id: int
    message_id: str
    sender: str
    subject: str
    time: str
    source: str
    deliveries: dict[str, str]
    headers: list[tuple[str, str]]
    text: str
    html: str
    attachments: list[AttachmentOut]
    dkim: str
    dkim_detail: str
    events: list[EventOut]


class SuppressionOut(BaseModel):
    """A suppressed address."""

    address: str
    kind: str
    reason: str
    created_at: str


class WebhookIn(BaseModel):
    """Body of PUT /apps/{app}/email/webhook."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000)


class WebhookOut(BaseModel):
    """The app's event webhook ('' when none)."""

    url: str


class RecordOut(BaseModel):
    """A DNS record the domain needs, and what live DNS has."""

    purpose: str
    type: str
    name: str
    value: str
    status: str
    found: list[str]


class DnsOut(BaseModel):
    """The domain's records and the problems found."""

    domain: str
    records: list[RecordOut]
    problems: list[str]


class RotatedOut(BaseModel):
    """The new DKIM selector and the record to publish for it."""

    selector: str
    name: str
    value: str


EventKind = Annotated[str, Query(pattern="^(" + "|".join(events.KINDS) + ")?$")]


def _app_exists(ctx: Platform, app: str) -> None:
    with ctx.sessions.begin() as session:
        apps.get(session, app)


@router.get("/apps/{app}/email/log")
async def email_log(app: str, ctx: PlatformDep, _: ActorDep, to: str = "",
                    event: EventKind = "",
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[EventOut]:
    """The app's mail events, newest first."""
    def work() -> list[EventOut]:
        with ctx.sessions.begin() as session:
            domains.row_of_app(session, app)
            return [EventOut(**asdict(e)) for e in
                    events.log(session, app, to=to, event=event, limit=limit)]

    return await run_in_threadpool(work)


@router.get("/apps/{app}/email/inbox")
async def email_inbox(app: str, ctx: PlatformDep, _: ActorDep) -> list[InboxOut]:
    """Captured messages (no relay configured), newest first."""
    def work() -> list[InboxOut]:
        with ctx.sessions.begin() as session:
            domains.row_of_app(session, app)
            return [InboxOut(**asdict(i)) for i in inbox.inbox(session, app)]

    return await run_in_threadpool(work)


def message_view(ctx: Platform, app: str, pk: int) -> inbox.MessageView:
    """One message of ``app`` (the dashboard page uses this too)."""
    with ctx.sessions.begin() as session:
        return inbox.view(session, ctx.cipher, app, pk)


@router.get("/apps/{app}/email/messages/{pk}")
async def email_message(app: str, pk: IdPath, ctx: PlatformDep, _: ActorDep) -> MessageOut:
    """One message: headers, text, HTML, attachments, DKIM result and events."""
    found = await run_in_threadpool(message_view, ctx, app, pk)
    return MessageOut(**asdict(found))


@router.get("/apps/{app}/email/suppressions")
async def list_suppressions(app: str, ctx: PlatformDep, _: ActorDep) -> list[SuppressionOut]:
    """Addresses the app's domain no longer sends to."""
    def work() -> list[SuppressionOut]:
        with ctx.sessions.begin() as session:
            domains.row_of_app(session, app)
            return [SuppressionOut(**asdict(s)) for s in events.list_suppressions(session, app)]

    return await run_in_threadpool(work)


@router.delete("/apps/{app}/email/suppressions/{address}")
async def remove_suppression(app: str, address: str, ctx: PlatformDep,
                             actor: ActorDep) -> SuppressionOut:
    """Send to ``address`` again."""
    def work() -> SuppressionOut:
        with ctx.sessions.begin() as session:
            domains.row_of_app(session, app)
            events.unsuppress(session, app, address)
            audit.record(session, actor, "email.unsuppress", address, app=app)
        return SuppressionOut(address=address.lower(), kind="removed", reason="", created_at="")

    return await run_in_threadpool(work)


@router.get("/apps/{app}/email/webhook")
async def get_webhook(app: str, ctx: PlatformDep, _: ActorDep) -> WebhookOut:
    """The URL the app's mail events are posted to."""
    def work() -> WebhookOut:
        with ctx.sessions.begin() as session:
            return WebhookOut(url=domains.row_of_app(session, app).webhook_url)

    return await run_in_threadpool(work)


@router.put("/apps/{app}/email/webhook")
async def set_webhook(app: str, body: WebhookIn, ctx: PlatformDep, actor: ActorDep
                      ) -> WebhookOut:
    """Post the app's mail events to ``url`` (Mailgun's format and signature)."""
    url = webhooks.check_url(body.url.strip())
    refusal = await run_in_threadpool(webhook_refusal, url)
    if refusal:
        raise InvalidInput(refusal)

    def work() -> WebhookOut:
        with ctx.sessions.begin() as session:
            row = domains.row_of_app(session, app)
            row.webhook_url = url
            audit.record(session, actor, "email.webhook", url, app=app)
            domain = row.domain
        domains.changed()
        if ctx.mail is not None:
            ctx.mail.forget(domain)
        return WebhookOut(url=url)

    return await run_in_threadpool(work)


@router.delete("/apps/{app}/email/webhook")
async def remove_webhook(app: str, ctx: PlatformDep, actor: ActorDep) -> WebhookOut:
    """Stop posting the app's mail events."""
    def work() -> WebhookOut:
        with ctx.sessions.begin() as session:
            row = domains.row_of_app(session, app)
            row.webhook_url = ""
            audit.record(session, actor, "email.webhook", "removed", app=app)
            domain = row.domain
        domains.changed()
        if ctx.mail is not None:
            ctx.mail.forget(domain)
        return WebhookOut(url="")

    return await run_in_threadpool(work)


def dns_records(ctx: Platform, app: str, live: bool = True) -> DnsOut:
    """The records ``app``'s domain needs, checked against live DNS when ``live``."""
    s = ctx.settings
    with ctx.sessions.begin() as session:
        sender = domains.sender(ctx.cipher, domains.row_of_app(session, app))
    wanted = dnscheck.expected(sender.domain, sender.selector,
                               dkim.public_record(sender.dkim_key),
                               helo_name(s.mail_hostname, s.base_domain), s.mail_relay)
    checked = dnscheck.check(wanted, s.mail_dns_resolver if live else "off")
    return DnsOut(domain=sender.domain, records=[RecordOut(**asdict(r)) for r in checked],
                  problems=dnscheck.problems(checked))


@router.get("/apps/{app}/email/dns")
async def email_dns(app: str, ctx: PlatformDep, _: ActorDep) -> DnsOut:
    """SPF, DKIM, DMARC and return-path records, checked against live DNS."""
    return await run_in_threadpool(dns_records, ctx, app)


@router.post("/apps/{app}/email/dkim/rotate")
async def rotate_dkim(app: str, ctx: PlatformDep, actor: ActorDep) -> RotatedOut:
    """A new DKIM key under a new selector; publish its record (mail signs with it now)."""
    def work() -> RotatedOut:
        with ctx.sessions.begin() as session:
            selector = domains.rotate_dkim(session, ctx.cipher, app)
            row = domains.row_of_app(session, app)
            sender = domains.sender(ctx.cipher, row)
            audit.record(session, actor, "email.dkim.rotate", selector, app=app)
        if ctx.mail is not None:
            ctx.mail.forget(sender.domain)
        return RotatedOut(selector=selector,
                          name=f"{selector}._domainkey.{sender.domain}",
                          value=dkim.public_record(sender.dkim_key))

    return await run_in_threadpool(work)

"""Mail tied to the rest of the platform: the mail service of `roost up` (its settings, its
webhook address check), the platform's own mail through the same queue, and alerts when an
app's bounce or complaint rate goes over what mailbox providers tolerate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from urllib.parse import urlsplit

from roost.background import every
from roost.mail import deliveryproc, domains, events, queue, writes
from roost.mail.deliver import helo_name
from roost.mail.service import MailConfig, MailService
from roost.mail.worker import Limits
from roost.monitor.uptime import addresses
from roost.notify.channels import roostmail
from roost.orchestration import alerts
from roost.orchestration.platform import Platform
from roost.settings import Settings
from roost.store.base import utcnow

log = logging.getLogger("roost.mail")
Stopper = Callable[[], Awaitable[None]]
BOUNCE_LIMIT, COMPLAINT_LIMIT = 0.05, 0.001  # what mailbox providers act on
MIN_SENT = 20  # below this a single bounce says little


def config(settings: Settings) -> MailConfig:
    """The mail service's settings."""
    s = settings
    return MailConfig(relay=s.mail_relay, direct=s.mail_direct, mx_port=s.mail_mx_port,
                      listen=s.mail_smtp_listen,
                      hostname=helo_name(s.mail_hostname, s.base_domain),
                      tls_cert=s.mail_tls_cert, tls_key=s.mail_tls_key,
                      resolver=s.mail_dns_resolver,
                      limits=Limits(per_app=s.mail_rate_app, per_domain=s.mail_rate_domain),
                      workers=s.mail_workers, journal=str(s.home / "mail" / "journal"),
                      processes=s.mail_delivery_processes)


def webhook_refusal(url: str) -> str | None:
    """Why a webhook may not be posted to ``url`` now (a link-local or metadata address)."""
    host = urlsplit(url).hostname or ""
    try:
        addresses.check(host, addresses.resolve(host))
    except addresses.RefusedAddress as exc:
        return exc.message.replace("monitor target", "webhook host")
    return None


def platform_submitter(platform: Platform, service: MailService) -> roostmail.Submit:
    """Queue the platform's own mail (``ROOST_SMTP_URL=roost://…``) as apps' mail is."""
    def submit(sender: str, address: str, subject: str, body: str) -> str:
        msg = EmailMessage(policy=SMTP)
        msg["From"], msg["To"], msg["Subject"] = sender, address, subject or body[:60]
        msg.set_content(body)
        return service.intake.accept_sync(queue.Submission(
            app=domains.PLATFORM, domain=sender.rpartition("@")[2].lower(),
            envelope_from=sender, recipients=[address], raw=msg.as_bytes(),
            source="platform"))

    return submit


def check_rates(platform: Platform, now: datetime | None = None) -> list[str]:
    """Tell the maintainers of each app whose last hour of mail bounced or drew complaints
    over the limits; return the apps told (one message per app, kind and hour)."""
    now = now or utcnow()
    with platform.sessions.begin() as session:
        found = events.rates(session, now - timedelta(hours=1))
    told = []
    for app, r in found.items():
        if app == domains.PLATFORM or not r.sent:
            continue
        for kind, count, limit in (("bounce", r.bounced, BOUNCE_LIMIT),
                                   ("complaint", r.complained, COMPLAINT_LIMIT)):
            rate = count / r.sent
            if count and rate > limit and (kind == "complaint" or r.sent >= MIN_SENT):
                subject = f"{app}: mail {kind} rate {rate:.1%} over the last hour"
                body = (f"{count} of {r.sent} messages {app} sent in the last hour drew a "
                        f"{kind} ({rate:.1%}; mailbox providers act above {limit:.1%}). "
                        f"`roost email log {app} --event "
                        f"{'failed' if kind == 'bounce' else 'complained'}` shows them.")
                alerts.notify_maintainers(platform, app,
                                          f"mail-{kind}:{app}:{now:%Y%m%d%H}", "mail",
                                          subject, body)
                told.append(app)
    return told


async def start_mail(platform: Platform) -> Stopper:
    """Start the SMTP server, the delivery workers, the webhook loop and the rate alerts."""
    s = platform.settings
    service = MailService(platform.sessions, platform.cipher, config(s), webhook_refusal,
                          store=deliveryproc.Store(s.effective_database_url, str(s.home),
                                                   s.secret_key))
    smtp_url = platform.settings.smtp_url
    if smtp_url.startswith("roost://"):
        sender = roostmail.sender_of(smtp_url)
        with writes.writing(platform.sessions) as session:
            domains.ensure_platform(session, platform.cipher, sender)
    await service.start()
    platform.mail = service
    if smtp_url.startswith("roost://"):
        roostmail.install(platform_submitter(platform, service))
    stop_rates = asyncio.Event()

    async def rates_pass() -> None:
        await asyncio.to_thread(check_rates, platform)

    rate_task = asyncio.create_task(every(300.0, stop_rates, rates_pass, "mail rate alerts",
                                          first_delay=60.0))

    async def stop() -> None:
        roostmail.install(None)
        platform.mail = None
        stop_rates.set()
        await rate_task
        await service.stop()

    return stop

"""Mail tied to the rest of the platform: the mail service of `roost up` (its settings,
its webhook address check) and alerts when an app's bounce or complaint rate is too high.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from roost.mail.deliver import helo_name
from roost.mail.service import MailConfig, MailService
from roost.mail.worker import Limits
from roost.monitor.uptime import addresses
from roost.orchestration.platform import Platform
from roost.settings import Settings

Stopper = Callable[[], Awaitable[None]]


def config(settings: Settings) -> MailConfig:
    """The mail service's settings."""
    s = settings
    return MailConfig(relay=s.mail_relay, direct=s.mail_direct, mx_port=s.mail_mx_port,
                      listen=s.mail_smtp_listen,
                      hostname=helo_name(s.mail_hostname, s.base_domain),
                      tls_cert=s.mail_tls_cert, tls_key=s.mail_tls_key,
                      resolver=s.mail_dns_resolver,
                      limits=Limits(per_app=s.mail_rate_app, per_domain=s.mail_rate_domain),
                      workers=s.mail_workers)


def webhook_refusal(url: str) -> str | None:
    """Why a webhook may not be posted to ``url`` now (a link-local or metadata address)."""
    host = urlsplit(url).hostname or ""
    try:
        addresses.check(host, addresses.resolve(host))
    except addresses.RefusedAddress as exc:
        return exc.message.replace("monitor target", "webhook host")
    return None


async def start_mail(platform: Platform) -> Stopper:
    """Start the SMTP server, the delivery workers and the webhook loop."""
    service = MailService(platform.sessions, platform.cipher, config(platform.settings),
                          webhook_refusal)
    await service.start()
    platform.mail = service

    async def stop() -> None:
        platform.mail = None
        await service.stop()

    return stop

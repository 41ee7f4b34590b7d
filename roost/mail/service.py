"""The mail service of `roost up`: the SMTP server, the delivery workers and the webhook
loop, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from roost.core.secrets import Cipher
from roost.errors import ConfigError
from roost.mail import deliveryproc, dkim, dnscheck, domains, journal, smtpd, webhooks
from roost.mail.deliver import Capture, Direct, Relay, Transport
from roost.mail.intake import Intake
from roost.mail.worker import Deliverer, Limits

log = logging.getLogger("roost.mail")


@dataclass(frozen=True)
class MailConfig:
    """The settings the mail service reads (``ROOST_MAIL_*``)."""

    relay: str = ""
    direct: bool = False
    mx_port: int = 25
    listen: str = "127.0.0.1:2587"
    hostname: str = "localhost"
    tls_cert: str = ""
    tls_key: str = ""
    resolver: str = ""
    limits: Limits = Limits()
    workers: int = 16
    journal: str = ""  # directory of the hand-over journal ('' keeps none)
    processes: int = 0  # delivery processes beside `roost up` (0: threads of its own)

    @property
    def mode(self) -> str:
        """``relay``, ``direct`` or ``capture``."""
        return "relay" if self.relay else "direct" if self.direct else "capture"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def dns_problems(config: MailConfig, sender: domains.Sender) -> list[str]:
    """What is wrong with ``sender``'s DNS records, checked live."""
    wanted = dnscheck.expected(sender.domain, sender.selector,
                               dkim.public_record(sender.dkim_key), config.hostname,
                               config.relay)
    return dnscheck.problems(dnscheck.check(wanted, config.resolver))


def transport(config: MailConfig) -> Transport:
    """A new transport for one worker thread, as configured."""
    if config.relay:
        return Relay(config.relay, config.hostname)
    if config.direct:
        return Direct(config.hostname, config.mx_port,
                      "" if config.resolver == "off" else config.resolver)
    return Capture()


def new_deliverer(sessions: sessionmaker[Session], cipher: Cipher, config: MailConfig
                  ) -> Deliverer:
    """The deliverer of this process, owning its leases as ``HOST:PID``."""
    return Deliverer(sessions, cipher, lambda: transport(config), config.limits,
                     owner=f"{os.uname().nodename}:{os.getpid()}",
                     dns_problems=None if config.resolver == "off"
                     else lambda sender: dns_problems(config, sender))


class MailService:
    """Everything that moves mail while `roost up` runs."""

    def __init__(self, sessions: sessionmaker[Session], cipher: Cipher, config: MailConfig,
                 allow_url: Callable[[str], str | None],
                 store: deliveryproc.Store | None = None) -> None:
        self.sessions, self.cipher, self.config = sessions, cipher, config
        self.deliverer = new_deliverer(sessions, cipher, config)
        # Delivery in processes of its own needs the store's address to give them.
        self.children = (deliveryproc.Children(store, config, _alive)
                         if store is not None and config.processes > 0 else None)
        self.intake = Intake(sessions, on_commit=self.kick)
        self.hooks = webhooks.Sender(sessions, cipher, allow_url)
        self.server: asyncio.Server | None = None
        self.hook_task: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()

    def kick(self) -> None:
        """Wake the delivery workers (a message was just accepted)."""
        if self.children is not None:
            self.children.kick()
        else:
            self.deliverer.kick.set()

    def forget(self, domain: str) -> None:
        """Drop what the delivery workers cached of ``domain`` (keys rotated, webhook set)."""
        self.deliverer.forget(domain)
        if self.children is not None:
            self.children.forget(domain)

    async def start(self) -> None:
        """Listen for SMTP, start the delivery workers and the webhook loop."""
        c = self.config
        if c.listen != "off":
            host, _, port = c.listen.rpartition(":")
            if not c.tls_cert and not _loopback(host):
                raise ConfigError(f"ROOST_MAIL_SMTP_LISTEN is {c.listen} but no "
                                  "ROOST_MAIL_TLS_CERT is set: apps' passwords would cross "
                                  "the network in clear; set a certificate or listen on "
                                  "127.0.0.1")
            handler = smtpd.Handler(self.sessions, self.cipher, self.intake)
            try:
                self.server = await smtpd.serve(
                    handler, smtpd.Authenticator(self.sessions), host, int(port),
                    hostname=c.hostname, tls=smtpd.tls_context(c.tls_cert, c.tls_key))
            except OSError as exc:
                raise ConfigError(f"cannot listen for SMTP on {c.listen} ({exc.strerror}): "
                                  "set ROOST_MAIL_SMTP_LISTEN to a free address, or off"
                                  ) from exc
        await asyncio.to_thread(journal.settle_stopped, self.sessions,
                                Path(c.journal) if c.journal else None, os.uname().nodename,
                                _alive)
        if self.children is not None:  # each keeps a journal of its own
            await self.children.start(self.sessions)
        else:
            if c.journal:
                self.deliverer.journal = journal.Journal(Path(c.journal))
            self.deliverer.start(c.workers)
        self.hook_task = asyncio.create_task(self._hooks())
        log.info("mail: SMTP on %s, delivery by %s%s", c.listen, c.mode,
                 f" in {c.processes} processes" if self.children is not None else "")

    async def _hooks(self) -> None:
        while not self.stopping.is_set():
            try:
                sent = await asyncio.to_thread(self.hooks.run_once)
            except Exception:
                log.exception("webhook pass failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=1.0)

    async def stop(self) -> None:
        """Stop taking mail, finish the deliveries in hand, stop the webhook loop."""
        self.stopping.set()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await asyncio.to_thread(self.intake.close)
        if self.children is not None:
            await self.children.stop()
        await asyncio.to_thread(self.deliverer.stop)
        if self.hook_task is not None:
            await self.hook_task
        self.hooks.close()

"""The typed platform: every service of a running Roost as an attribute, opened in one place.

``open_platform`` is the composition root for everything that exists as soon as the store
is open (settings, store, cipher, object store, notifier, add-ons). The services that run
in the background of `roost up` (router and supervisor, perf and uptime monitors) are
attached by :mod:`roost.orchestration.services` when they start, and are ``None`` in a
process that does not run them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from roost import credentials
from roost.addons.registry import AddonRegistry
from roost.core import tokens
from roost.core.secrets import Cipher, load_or_create_key
from roost.errors import ConfigError, InvalidInput
from roost.notify.channels import registry as channels
from roost.notify.service import Notifier, NotifierConfig
from roost.objectstore import ObjectStore, open_store
from roost.orchestration.recipients import parse_oncall
from roost.settings import Settings
from roost.store.migrate import upgrade
from roost.store.session import make_engine, make_sessionmaker

if TYPE_CHECKING:
    from roost.mail.service import MailService
    from roost.monitor.perf.service import PerfService
    from roost.monitor.uptime.service import UptimeService
    from roost.orchestration.cluster import Membership
    from roost.runtime.interface import AppRuntime


@dataclass
class Platform:
    """The platform's services; a reader sees here everything that exists."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: Cipher
    objects: ObjectStore
    notifier: Notifier
    addons: AddonRegistry
    runtime: AppRuntime | None = None
    perf: PerfService | None = None
    uptime: UptimeService | None = None
    cluster: Membership | None = None  # this control-plane instance, while `roost up` runs

    def leads(self, work: str) -> bool:
        """Whether this process runs the run-once work ``work`` now (always, outside a
        cluster of `roost up` instances)."""
        return self.cluster is None or self.cluster.holds(work)
    mail: MailService | None = None

    def running_runtime(self) -> AppRuntime:
        """The runtime, or a clear error when this process does not run apps."""
        from roost.errors import InvalidInput

        if self.runtime is None:
            raise InvalidInput("the runtime is not running in this server; start `roost up`")
        return self.runtime


def open_platform(settings: Settings) -> Platform:
    """Create the home directory, migrate the store and build the platform's services."""
    try:
        parse_oncall(list(settings.oncall))
    except InvalidInput as exc:
        raise ConfigError(f"bad value for ROOST_ONCALL: {exc}") from exc
    for kind, url in (("sms", settings.sms_url), ("email", settings.smtp_url)):
        if url:
            channels.check(kind, url)
    settings.home.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.home, 0o700)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    cipher = Cipher(load_or_create_key(settings.home, settings.secret_key))
    notifier = Notifier(sessions, NotifierConfig(
        sms_url=settings.sms_url, smtp_url=settings.smtp_url, oncall=tuple(settings.oncall)))
    return Platform(settings=settings, engine=engine, sessions=sessions, cipher=cipher,
                    objects=open_store(settings.effective_object_store), notifier=notifier,
                    addons=AddonRegistry.from_settings(settings.addon_kinds))


def ensure_local_credentials(platform: Platform) -> bool:
    """Make sure the local CLI can talk to this server; return True when a token was made."""
    home, url = platform.settings.home, platform.settings.api_url
    stored = credentials.read(home)
    with platform.sessions.begin() as session:
        if stored and tokens.verify(session, stored.token) is not None:
            if stored.url != url:
                credentials.write(home, credentials.Credentials(url, stored.token))
            return False
        token = tokens.create(session, "admin")
    credentials.write(home, credentials.Credentials(url, token))
    return True

"""Open a Roost installation: settings, store (migrated), cipher and the local admin token."""

from __future__ import annotations

import os

from roost import credentials
from roost.context import Context
from roost.core import alerts, assetflow, tokens, vulnwatch
from roost.core.secrets import Cipher, load_or_create_key
from roost.objectstore import open_store
from roost.settings import Settings
from roost.store.migrate import upgrade
from roost.store.session import make_engine, make_sessionmaker


def open_platform(settings: Settings) -> Context:
    """Create the home directory, migrate the store and return the shared context."""
    settings.home.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.home, 0o700)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    cipher = Cipher(load_or_create_key(settings.home, settings.secret_key))
    ctx = Context(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                  cipher=cipher)
    ctx.services["objects"] = open_store(settings.effective_object_store)
    assetflow.install(ctx)
    vulnwatch.install(ctx)
    alerts.install(ctx)
    return ctx


def ensure_local_credentials(ctx: Context) -> bool:
    """Make sure the local CLI can talk to this server; return True when a token was made."""
    stored = credentials.read(ctx.settings.home)
    with ctx.sessions.begin() as session:
        if stored and tokens.verify(session, stored.token) is not None:
            if stored.url != ctx.settings.api_url:
                credentials.write(ctx.settings.home,
                                  credentials.Credentials(ctx.settings.api_url, stored.token))
            return False
        token = tokens.create(session, "admin")
    credentials.write(ctx.settings.home, credentials.Credentials(ctx.settings.api_url, token))
    return True

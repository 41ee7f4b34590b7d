"""Per-app OTLP ingest keys and the standard OpenTelemetry config vars that carry them."""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.core import config
from roost.core.secrets import Cipher, hash_token
from roost.store.models import App


def provision(session: Session, cipher: Cipher, app: App, api_url: str) -> str:
    """Give the app an ingest key and set OTEL_* config vars pointing at this Roost."""
    key = "rik_" + secrets.token_urlsafe(24)
    app.settings = {**(app.settings or {}), "ingest_key_sha256": hash_token(key)}
    config.set_many(session, cipher, app.name, {
        "OTEL_SERVICE_NAME": app.name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": api_url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"x-roost-ingest-key={key}",
    }, "roost")
    return key


def rotate(session: Session, cipher: Cipher, app: App, api_url: str) -> str:
    """Replace the app's ingest key (the old one stops resolving) and return the new one.

    The running release keeps sending the old key until a release with the new config
    vars is active; drop cached keys (``IngestKeys.forget_app``) once this is committed.
    """
    return provision(session, cipher, app, api_url)


def resolve(session: Session, key: str) -> str | None:
    """The app whose ingest key is ``key``, or None."""
    digest = hash_token(key)
    for name, settings in session.execute(select(App.name, App.settings)):
        stored = (settings or {}).get("ingest_key_sha256", "")
        if stored and hmac.compare_digest(stored, digest):
            return str(name)
    return None

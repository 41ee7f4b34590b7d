"""Shared fixtures: a store on SQLite and on PostgreSQL, free ports, condition waits."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from roost.store.session import make_engine, normalise_url
from tests.wheelhouse import wheelhouse  # noqa: F401  (a session fixture for builds)

PG_URL = os.environ.get("ROOST_TEST_POSTGRES_URL") or (
    Path(__file__).resolve().parent.parent.joinpath(".pg-test-url").read_text().strip()
    if Path(__file__).resolve().parent.parent.joinpath(".pg-test-url").exists()
    else ""
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections for the whole test: held by a socket that
    never listens, so no server started meanwhile (by this test or another worker's) can take
    it, as it can take a port merely found free."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def stale_connection(exc: Exception) -> bool:
    """Whether a request failed on a kept-alive connection the server had just closed (as
    a router does with its idle connections when it reloads): no byte of answer came, so
    the request was never processed and a browser resends it at once."""
    text = str(exc)
    return "without sending a response" in text or "Connection reset by peer" in text


def self_signed(name: str, days: int = 1) -> tuple[str, str]:
    """A self-signed certificate for ``name`` (also its subjectAltName), valid from a day
    ago for ``days`` days, and its key: both PEM."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


def https_get(address: str, port: int, host: str, root: Path, path: str = "/",
              timeout: float = 10) -> tuple[int, str, dict[str, Any]]:
    """GET https://HOST/PATH from ``address:port`` (SNI and Host: ``host``), verifying the
    certificate with the CA whose root certificate is ``root``; status, body, certificate."""
    context = ssl.create_default_context(cafile=str(root))
    with socket.create_connection((address, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        cert = tls.getpeercert()
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                    .encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    if not head:  # closed unanswered, as a reloading Caddy does with a connection it had
        raise ConnectionError(f"https://{host}{path} on {address}:{port}: closed, no answer")
    return int(head.split()[1]), body, cert


def wait_for(cond: Callable[[], object], timeout: float = 30.0, interval: float = 0.05) -> object:
    """Poll ``cond`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")


def in_ci() -> bool:
    """Whether the suite runs in CI (``CI=true``), where nothing may be skipped for want of
    a service."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def new_pg_database() -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database: its URL and a function that drops it.

    Without ROOST_TEST_POSTGRES_URL the PostgreSQL half of a store test is skipped on a
    developer's machine, and fails in CI so that a run cannot pass on SQLite alone.
    """
    if not PG_URL:
        message = "PostgreSQL not configured: run `make test` (sets ROOST_TEST_POSTGRES_URL)"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this fails instead of skipping", pytrace=False)
        pytest.skip(message)
    name = "roost_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = normalise_url(PG_URL).rpartition("/")
    url = f"{base}/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'roost.db'}"
        return
    url, drop = new_pg_database()
    try:
        yield url
    finally:
        drop()


def engine_with_tables(url: str) -> Iterator[Engine]:
    """An engine on the (fresh) database at ``url`` with every table created from the
    models; disposed when the generator is closed."""
    from roost.store import models  # noqa: F401  (registers every model)
    from roost.store.base import Base

    eng = make_engine(url)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with every table created from the models."""
    yield from engine_with_tables(db_url)


@pytest.fixture
def platform(db_url: str, tmp_path: Path) -> Iterator[object]:
    """A migrated platform context (store, cipher, admin token) on a fresh database."""
    from roost.orchestration.platform import ensure_local_credentials, open_platform
    from roost.settings import Settings

    settings = Settings(home=tmp_path / "home", database_url=db_url)
    ctx = open_platform(settings)
    ensure_local_credentials(ctx)
    yield ctx
    ctx.engine.dispose()


@contextlib.contextmanager
def admin_client(platform: Any) -> Iterator[Any]:
    """A TestClient of the control plane on ``platform``, with its admin token."""
    from fastapi.testclient import TestClient

    from roost import credentials
    from roost.api.app import create_app

    creds = credentials.read(platform.settings.home)
    assert creds is not None
    with TestClient(create_app(platform)) as client:
        client.headers["Authorization"] = f"Bearer {creds.token}"
        yield client


@pytest.fixture
def api(platform: object) -> Iterator[object]:
    """A TestClient of the control plane, authenticated with the admin token."""
    with admin_client(platform) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[object]:
    """The SMS provider's endpoint (Twilio wire format) and an Apprise json:// sink."""
    from tests.notify.receivers import Receiver

    r = Receiver().start()
    yield r
    r.stop()

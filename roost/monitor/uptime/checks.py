"""The checks themselves: HTTP(S) with conditions, TCP connect, TLS certificate expiry, and
PostgreSQL (connect, authenticate, ``SELECT 1``)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from roost.monitor.uptime import addresses
from roost.monitor.uptime.specs import MonitorSpec

BODY_LIMIT = 64 * 1024
HEAD_BYTES = 512


@dataclass
class Outcome:
    """What one check found."""

    ok: bool
    latency_ms: float
    status: int | None = None
    error: str | None = None
    body_head: str | None = None


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, addresses.RefusedAddress):
        return exc.message[:200]
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timeout after {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, httpx.ConnectError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        return f"connect: {exc or type(exc).__name__}"[:200]
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


class Checker:
    """Runs checks with one shared HTTP client per TLS-verify setting."""

    def __init__(self, probe_name: str = "local", max_connections: int = 200,
                 allow_private: bool = False) -> None:
        self.allow_private = allow_private  # link-local/metadata targets (addresses.py)
        self._trace = addresses.tracer(allow_private)
        self._vetted: dict[str, float] = {}  # host names found safe, until when
        limits = httpx.Limits(max_connections=max_connections,
                              max_keepalive_connections=max_connections)
        agent = {"User-Agent": f"roost-uptime/1 (probe {probe_name})"}
        self.clients = {
            verify: httpx.AsyncClient(verify=verify, limits=limits, headers=agent,
                                      timeout=30.0)
            for verify in (True, False)
        }

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        for client in self.clients.values():
            await client.aclose()

    async def check(self, spec: MonitorSpec) -> Outcome:
        """Run ``spec``'s check within its timeout; never raises."""
        start = time.perf_counter()
        try:
            async with asyncio.timeout(spec.timeout_s):
                if spec.kind == "http":
                    return await self._http(spec, start)
                if spec.kind == "tcp":
                    return await _tcp(spec, start, self.allow_private)
                if spec.kind == "postgres":
                    return await _postgres(spec, start, self.allow_private)
                return await _tls(spec, start, self.allow_private)
        except Exception as exc:  # every failure is a finding, not a crash
            return Outcome(False, (time.perf_counter() - start) * 1000,
                           error=_describe(exc, spec.timeout_s))

    async def _vet(self, host: str) -> None:
        """Refuse a link-local or metadata host before connecting (verdicts kept 30 s)."""
        if addresses.is_literal(host):
            addresses.check_name(host)  # no lookup needed, nor a thread hop per check
            return
        now = time.monotonic()
        if self._vetted.get(host, 0.0) > now:
            return
        with contextlib.suppress(OSError):  # httpx reports an unknown name its own way
            await addresses.check_peer(host, 80, False)
        if len(self._vetted) > 10_000:
            self._vetted.clear()
        self._vetted[host] = now + 30.0

    async def _http(self, spec: MonitorSpec, start: float) -> Outcome:
        client = self.clients[spec.verify_tls]
        if not self.allow_private:  # before any packet; the trace hook re-checks the peer
            await self._vet(httpx.URL(spec.target).host)
        request = client.build_request(spec.method, spec.target, headers=spec.headers,
                                       timeout=spec.timeout_s,
                                       extensions={"trace": self._trace})
        response = await client.send(request, stream=True,
                                     follow_redirects=spec.follow_redirects)
        try:
            status = response.status_code
            expected = (status in spec.expected_status if spec.expected_status
                        else 200 <= status < 400)
            need_body = bool(spec.body_contains or spec.body_regex) or not expected
            body = b""
            if need_body:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= BODY_LIMIT:
                        break
        finally:
            await response.aclose()
        latency = (time.perf_counter() - start) * 1000
        text = body.decode(response.encoding or "utf-8", errors="replace") if body else ""
        head = text[:HEAD_BYTES] or None
        if not expected:
            return Outcome(False, latency, status, f"HTTP {status}", head)
        if spec.max_response_ms is not None and latency > spec.max_response_ms:
            return Outcome(False, latency, status,
                           f"slow: {latency:.0f} ms > {spec.max_response_ms} ms", head)
        if spec.body_contains and spec.body_contains not in text:
            return Outcome(False, latency, status,
                           f"body lacks {spec.body_contains[:40]!r}", head)
        if spec.body_regex and not re.search(spec.body_regex, text):
            return Outcome(False, latency, status,
                           f"body does not match /{spec.body_regex[:40]}/", head)
        return Outcome(True, latency, status)


def _host_port(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


async def _open(host: str, port: int, allow_private: bool, **tls: object
                ) -> asyncio.StreamWriter:
    """Connect to an address of ``host`` that was checked, so a rebinding name gets nowhere."""
    last: OSError = OSError(f"{host} has no address")
    for address in await addresses.check_peer(host, port, allow_private):
        try:
            _, writer = await asyncio.open_connection(address, port, **tls)  # type: ignore[arg-type]
            return writer
        except OSError as exc:
            last = exc
    raise last


async def _tcp(spec: MonitorSpec, start: float, allow_private: bool) -> Outcome:
    host, port = _host_port(spec.target)
    writer = await _open(host, port, allow_private)
    latency = (time.perf_counter() - start) * 1000
    writer.close()
    await writer.wait_closed()
    return Outcome(True, latency)


async def _tls(spec: MonitorSpec, start: float, allow_private: bool) -> Outcome:
    host, port = _host_port(spec.target)
    ctx = ssl.create_default_context()
    if not spec.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    writer = await _open(host, port, allow_private, ssl=ctx, server_hostname=host)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    latency = (time.perf_counter() - start) * 1000
    if not der:
        return Outcome(False, latency, error="TLS: no certificate presented")
    expires = x509.load_der_x509_certificate(der).not_valid_after_utc
    days = (expires - datetime.now(UTC)).total_seconds() / 86400
    if days < 0:
        return Outcome(False, latency, error=f"certificate expired on {expires:%Y-%m-%d}")
    if days < spec.tls_warn_days:
        return Outcome(False, latency,
                       error=f"certificate expires in {int(days)} days ({expires:%Y-%m-%d})")
    return Outcome(True, latency)


def _pg_reason(exc: BaseException) -> str:
    """PostgreSQL's own reason (``password authentication failed for user "x"``), without
    the connection details psycopg puts around it."""
    text = str(exc).strip()
    for marker in ("FATAL:", "ERROR:"):
        if marker in text:
            return text.rsplit(marker, 1)[1].strip().splitlines()[0][:200]
    if "refused" in text.lower():
        return "connection refused"
    if "timeout" in text.lower():
        return "timeout"
    return (text.splitlines()[-1] if text else type(exc).__name__)[:200]


async def _postgres(spec: MonitorSpec, start: float, allow_private: bool) -> Outcome:
    """Log in to the database of a postgres:// URL and run ``SELECT 1``."""
    import psycopg  # only monitors of this kind need it

    parts = urlsplit(spec.target)
    host, port = parts.hostname or "", parts.port or 5432
    addresses_ok = await addresses.check_peer(host, port, allow_private)
    last: BaseException = OSError(f"{host} has no address")
    for address in addresses_ok:  # the checked address, so a rebinding name gets nowhere
        try:
            conn = await psycopg.AsyncConnection.connect(
                spec.target, hostaddr=address, connect_timeout=max(1, int(spec.timeout_s)),
                passfile="/dev/null", autocommit=True,
                application_name="roost-uptime")
        except psycopg.Error as exc:
            last = exc
            continue
        try:
            cursor = await conn.execute("SELECT 1")
            row = await cursor.fetchone()
        except psycopg.Error as exc:
            return Outcome(False, (time.perf_counter() - start) * 1000,
                           error=f"SELECT 1: {_pg_reason(exc)}")
        finally:
            await conn.close()
        latency = (time.perf_counter() - start) * 1000
        if row != (1,):
            return Outcome(False, latency, error=f"SELECT 1 returned {row!r}"[:200])
        return Outcome(True, latency)
    return Outcome(False, (time.perf_counter() - start) * 1000, error=_pg_reason(last))

"""The checks against real servers on 127.0.0.1: HTTP conditions, TCP, TLS expiry."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.monitor.uptime.checks import Checker, Outcome
from roost.monitor.uptime.specs import MonitorSpec
from tests.conftest import free_port, self_signed
from tests.monitor.uptime.target import Target


@pytest.fixture
def target() -> Iterator[Target]:
    """A healthy target."""
    t = Target().start()
    yield t
    t.stop()


def run(spec: MonitorSpec) -> Outcome:
    """One check with a fresh checker."""
    async def go() -> Outcome:
        checker = Checker("test")
        try:
            return await checker.check(spec)
        finally:
            await checker.aclose()
    return asyncio.run(go())


def http(url: str, **kw: object) -> MonitorSpec:
    """An HTTP spec."""
    opts: dict[str, object] = {"timeout_s": 2.0, **kw}
    return MonitorSpec(id=1, kind="http", target=url, **opts)  # type: ignore[arg-type]


def test_http_conditions(target: Target) -> None:
    assert run(http(target.url)).ok
    assert run(http(target.url, body_contains="ok")).ok
    assert not run(http(target.url, body_contains="welcome")).ok
    assert run(http(target.url, body_regex="^o.$")).ok
    assert "does not match" in (run(http(target.url, body_regex="^x")).error or "")
    assert not run(http(target.url, expected_status=[204])).ok
    target.status = 500
    bad = run(http(target.url))
    assert (bad.ok, bad.status, bad.error) == (False, 500, "HTTP 500")
    assert bad.body_head == "broken: database unreachable"
    assert run(http(target.url, expected_status=[500])).ok


def test_http_slow_and_timeout(target: Target) -> None:
    target.delay = 0.3
    slow = run(http(target.url, max_response_ms=100))
    assert not slow.ok and (slow.error or "").startswith("slow: ")
    timed_out = run(http(target.url, timeout_s=0.1))
    assert timed_out.error == "timeout after 0.1s"


def test_http_refused_and_tcp(closed_port: int) -> None:
    port = closed_port
    assert run(http(f"http://127.0.0.1:{port}/")).error == "connection refused"
    tcp = MonitorSpec(id=1, kind="tcp", target=f"127.0.0.1:{port}", timeout_s=1.0)
    assert run(tcp).error == "connection refused"


def test_tcp_open(target: Target) -> None:
    assert run(MonitorSpec(id=1, kind="tcp", target=f"127.0.0.1:{target.port}")).ok


def _tls_server(tmp: Path, days: int) -> tuple[int, threading.Event]:
    chain, key = self_signed("localhost", days)
    (tmp / "c.pem").write_text(chain)
    (tmp / "k.pem").write_text(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    port, ready, done = free_port(), threading.Event(), threading.Event()

    def serve() -> None:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.close()

        async def main() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)
            ready.set()
            async with server:
                await asyncio.to_thread(done.wait)
        asyncio.run(main())

    threading.Thread(target=serve, daemon=True).start()
    assert ready.wait(5)
    return port, done


@pytest.mark.parametrize(("days", "warn", "ok"), [(5, 14, False), (60, 14, True)])
def test_tls_expiry(tmp_path: Path, days: int, warn: int, ok: bool) -> None:
    port, done = _tls_server(tmp_path, days)
    try:
        spec = MonitorSpec(id=1, kind="tls", target=f"127.0.0.1:{port}", verify_tls=False,
                           tls_warn_days=warn, timeout_s=3.0)
        result = run(spec)
        assert result.ok is ok
        if not ok:
            assert (result.error or "").startswith("certificate expires in 4 days")
        verified = run(spec.model_copy(update={"verify_tls": True}))
        assert not verified.ok and (verified.error or "").startswith("TLS")
    finally:
        done.set()

"""Two probes: a failure seen from one location only pages nobody; agreement pages once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy.orm import Session, sessionmaker

from roost.monitor.uptime import engine, incidents
from roost.monitor.uptime.probe import run_probe
from roost.monitor.uptime.specs import CLAIM_PATH, RESULTS_PATH, Claim, ReportIn, ReportOut
from roost.store.session import transaction
from tests.conftest import free_port, wait_for
from tests.monitor.uptime.conftest import (
    FAST,
    TIMEOUT,
    People,
    Running,
    add_monitor,
    person,
    wait_checks,
)
from tests.monitor.uptime.target import Target
from tests.notify.receivers import Receiver


def probe_api(factory: sessionmaker[Session]) -> FastAPI:
    """The two probe endpoints as the control plane serves them (stand-in for roost.api)."""
    app = FastAPI()
    cfg = FAST.engine

    @app.post(CLAIM_PATH)
    def claim(name: str) -> Claim:
        return engine.claim(factory, name, cfg)

    @app.post(RESULTS_PATH)
    async def results(name: str, request: Request) -> ReportOut:
        body = ReportIn.model_validate_json(await request.body())

        verify = await asyncio.to_thread(engine.report, factory, name, body.results, cfg)
        return ReportOut(verify=verify)

    return app


@pytest.fixture
def remote_probe(factory: sessionmaker[Session]) -> Iterator[Callable[[str], None]]:
    """Start an API server and a remote probe named NAME talking to it over HTTP."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(probe_api(factory), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_for(lambda: server.started, timeout=10)
    loops: list[tuple[asyncio.AbstractEventLoop, asyncio.Event, threading.Thread]] = []

    def start(name: str) -> None:
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        async def main() -> None:
            async with httpx.AsyncClient(timeout=5) as client:
                await run_probe(client, name, f"http://127.0.0.1:{port}", "token", stop,
                                flush_s=0.05, refresh_s=0.2, heartbeat_s=0.2)

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        loops.append((loop, stop, thread))

    yield start
    for loop, stop, thread in loops:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
    server.should_exit = True


def _setup(factory: sessionmaker[Session], target: Target) -> list[int]:
    # Several monitors, so the remote probe owns some of them by hashing. The healthy probe
    # must see them up: a timeout of a whole second, so that a loaded machine (the suite on
    # several workers) does not make its check time out, which would be a real second
    # failure and rightly page.
    return [add_monitor(factory, "shop", target.url + f"?n={n}", interval_s=1.0,
                        timeout_s=1.0) for n in range(6)]


def test_failure_seen_from_one_probe_pages_nobody(
    factory: sessionmaker[Session], target: Target, receiver: Receiver,
    run_service: Callable[..., Running], remote_probe: Callable[[str], None],
) -> None:
    target.fail_agents = ("probe far",)
    ids = _setup(factory, target)
    run_service(People(by_app={"shop": [person(1)]}))
    remote_probe("far")
    wait_for(lambda: _incidents(factory, include_unconfirmed=True), timeout=TIMEOUT)
    for mid in ids:
        wait_checks(factory, mid, 6)
    # (An incident still awaiting its second opinion has no note yet.)
    notes = [i.note for i in _incidents(factory, include_unconfirmed=True) if i.ended_at]
    assert any("seen down from far only; local saw it up" in n for n in notes)
    # Under load a share may move between probes mid-outage; that too is no outage.
    assert all("saw it up" in n or "before a second probe confirmed" in n for n in notes), notes
    assert _incidents(factory) == []
    assert receiver.attempts == []


def test_failure_seen_from_both_probes_pages_once(
    factory: sessionmaker[Session], receiver: Receiver,
    run_service: Callable[..., Running], remote_probe: Callable[[str], None],
) -> None:
    target = Target().start()
    a = person(1)
    try:
        mid = add_monitor(factory, "shop", target.url)
        run_service(People(by_app={"shop": [a]}))
        remote_probe("far")
        wait_for(lambda: _live(factory) == ["far", "local"], timeout=10)
        wait_checks(factory, mid, 3)
        target.stop()
        wait_for(lambda: receiver.to(a.phone), timeout=TIMEOUT)
        wait_checks(factory, mid, 5)
        assert len(receiver.to(a.phone)) == 1
        [incident] = _incidents(factory)
        assert sorted(incident.probes) == ["far", "local"]
    finally:
        target.stop()


def _incidents(factory: sessionmaker[Session], **kw: object) -> list[incidents.IncidentView]:
    with transaction(factory) as s:
        return incidents.list_incidents(s, **kw)  # type: ignore[arg-type]


def _live(factory: sessionmaker[Session]) -> list[str]:
    from roost.store.base import utcnow

    with transaction(factory) as s:
        return engine.live_probes(s, utcnow(), FAST.engine)

"""`roost up`: the control plane and every background service in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from roost.api.app import create_app
from roost.errors import RoostError
from roost.orchestration import deploys, mailflow, services
from roost.orchestration.platform import Platform, ensure_local_credentials, open_platform
from roost.runtime.ports import bound_socket
from roost.settings import Settings

log = logging.getLogger("roost")


def say(message: str) -> None:
    """Print a line for the person running `roost up`, at once."""
    print(message, flush=True)

# Services started with the platform: each takes the platform and returns an async stopper.
Starter = Callable[[Platform], Awaitable[Callable[[], Awaitable[None]]]]
STARTERS: list[tuple[str, Starter]] = [
    ("control-plane instance", services.start_cluster),
    ("notifier", services.start_notifier),
    ("PostgreSQL", services.start_postgres),
    ("perf monitor", services.start_perf),
    ("uptime monitor", services.start_uptime),
    ("router and supervisor", services.start_runtime),
    ("daily asset collection", services.start_asset_gc),
    ("scheduled database backups", services.start_pg_backups),
    ("daily advisory updates", services.start_advisory_updates),
    ("mail", mailflow.start_mail),
    ("DNS drift check", services.start_dns_drift),
    ("host facts every 5 minutes", services.start_host_facts),
]


def build(settings: Settings, announce: Callable[[str], None] = say,
          deploy_example: bool = False) -> tuple[Platform, FastAPI]:
    """Open the platform and build its web app, with services tied to the app's lifespan."""
    ctx = open_platform(settings)
    services.join_cluster(ctx)  # before anything else runs: SQLite serves one host
    deploys.recover_own_locks(ctx)
    if ensure_local_credentials(ctx):
        announce(f"Created an admin API token in {settings.home / 'credentials.json'}")
    app = create_app(ctx)
    app.state.startup_errors = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        stoppers = []
        try:  # a start that fails stops what started before it, as a normal stop does
            for name, start in STARTERS:
                log.info("starting %s", name)
                try:
                    stoppers.append(await start(ctx))
                except RoostError as exc:  # e.g. the router port is taken: serve() says so
                    app.state.startup_errors.append(exc)
                    raise
            if deploy_example:
                from roost.example import start_in_background

                start_in_background(ctx, announce)
            yield {}
        finally:
            for stop in reversed(stoppers):
                with contextlib.suppress(Exception):
                    await stop()
            ctx.engine.dispose()

    app.router.lifespan_context = lifespan
    return ctx, app


def serve(
    settings: Settings, announce: Callable[[str], None] = say, deploy_example: bool = False
) -> None:
    """Run the platform in the foreground until SIGINT or SIGTERM."""
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO (each uptime check, the example's health check every
    # 30 s): the console keeps only its warnings, unless debugging.
    if settings.log_level.lower() != "debug":
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    # Bound before anything starts and held until uvicorn listens on it: nothing else can
    # take the port while Roost starts (a check alone left a second for that).
    listener = bound_socket(settings.listen, "ROOST_LISTEN")
    try:
        _serve_on(listener, settings, announce, deploy_example)
    finally:  # also when the start-up fails: the port is not held past it
        listener.close()
    announce("Roost stopped")


def _serve_on(listener: socket.socket, settings: Settings, announce: Callable[[str], None],
              deploy_example: bool) -> None:
    """Build the platform and serve its API on ``listener`` until stopped."""
    _, app = build(settings, announce, deploy_example)
    # No host or port: uvicorn serves the socket bound above.
    config = uvicorn.Config(app, log_level=settings.log_level, access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    announce(f"Roost control plane: {settings.api_url}  (dashboard at {settings.api_url}/)")
    # uvicorn re-raises the stop signal once it has shut down; with these no-op handlers in
    # place that re-raise is harmless and a requested stop exits 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        asyncio.run(server.serve(sockets=[listener]))
    except SystemExit:  # uvicorn exits when the start-up failed: say why in one line
        errors = app.state.startup_errors
        if errors:
            raise errors[0] from None
        raise

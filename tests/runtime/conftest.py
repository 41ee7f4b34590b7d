"""A real Caddy router and a supervisor, small WSGI apps, and a bounded load generator."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from roost.runtime.logs import AppLogs
from roost.runtime.model import ReleaseSpec
from roost.runtime.router import Router
from roost.runtime.supervisor import Limits, Supervisor
from tests.conftest import free_port, stale_connection

BIN = Path(sys.executable).parent
# The test venv and its interpreter, which the sandboxed test apps run from (read-only).
RUNTIME_PATHS = (Path(sys.prefix), Path(sys.base_prefix))
APP = '''
import os, time
def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        time.sleep(0.3)
    if path == "/health" and os.environ.get("BROKEN_HEALTH"):
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"sick"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    out = f"{os.environ.get('ROOST_RELEASE')} {len(body)}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [out]
'''
SOCKET_CMD = f"{BIN}/gunicorn app:app --bind 127.0.0.1:$PORT -w 2 --graceful-timeout 10"
PORT_CMD = (f"{BIN}/gunicorn app:app --bind 127.0.0.1:$PORT -w 2 --graceful-timeout 10")


@dataclass
class Platform:
    """Router + supervisor on free ports, and where apps live."""

    router: Router
    supervisor: Supervisor
    logs: AppLogs
    port: int
    apps_dir: Path

    def url(self, path: str = "/") -> str:
        """The router URL of ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def spec(self, app: str, release: int, mode: str, web: str | None = None,
             extra: dict[str, str] | None = None, types: dict[str, str] | None = None,
             health: str | None = "/health") -> ReleaseSpec:
        """A release of the test app in ``mode`` (socket or port)."""
        directory = self.apps_dir / app / f"v{release}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "app.py").write_text(APP)
        command = web or (SOCKET_CMD if mode == "socket" else PORT_CMD)
        app_json = {"roost": {"listen": mode}}
        if health:
            app_json["healthchecks"] = {"web": [{"type": "startup", "path": health}]}
        return ReleaseSpec(app=app, release=release, directory=directory,
                           env=dict(extra or {}), process_types=types or {"web": command},
                           app_json=app_json)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A running router and supervisor."""
    port = free_port()
    router = Router(f"127.0.0.1:{port}", tmp_path / "router")
    router.start()
    logs = AppLogs(tmp_path / "logs")
    crashes: list[tuple[str, str]] = []
    sup = Supervisor(router, logs, Limits(health_timeout=15, grace=10, crash_limit=3,
                                          crash_window=60, max_per_type=5,
                                          sandbox_paths=RUNTIME_PATHS),
                     on_crash=lambda app, dyno, lines: crashes.append((app, dyno)))
    sup.crashes = crashes  # type: ignore[attr-defined]
    sup.start()
    yield Platform(router, sup, logs, port, tmp_path / "apps")
    sup.stop()
    router.stop()


@dataclass
class Load:
    """A constant mix of keep-alive GETs, new-connection GETs, POSTs and slow requests."""

    url: str
    host: str
    sent: int = 0
    reconnects: int = 0  # idle keep-alive connections the router closed on a reload
    failed: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def _once(self, keep: httpx.Client, kind: str) -> httpx.Response:
        if kind == "keepalive":
            return keep.get(self.url + "/", headers={"Host": self.host})
        if kind == "fresh":
            return httpx.get(self.url + "/", headers={"Host": self.host}, timeout=10)
        if kind == "post":
            return keep.post(self.url + "/", headers={"Host": self.host}, content=b"x" * 2048)
        return keep.get(self.url + "/slow", headers={"Host": self.host})

    def _loop(self, kind: str, max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds
        keep = httpx.Client(timeout=10)
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                try:
                    r = self._once(keep, kind)
                except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                    # A router reload closes idle keep-alive connections; a request that
                    # meets one got no byte of answer and was never processed, so it is
                    # resent at once, as browsers do. Counted, so tests can bound it.
                    if kind == "fresh" or not stale_connection(exc):
                        raise
                    self.reconnects += 1
                    r = self._once(keep, kind)
                self.sent += 1
                if r.status_code != 200:
                    self.failed.append(f"{kind}: {r.status_code} {r.text[:80]}")
                else:
                    self.seen.add(r.text.split()[0])
            except httpx.HTTPError as exc:
                self.sent += 1
                self.failed.append(f"{kind}: {exc!r}")
            self.stop.wait(0.01)  # pacing between requests, ended at once by finish()
        keep.close()

    def start(self, max_seconds: float = 60) -> Load:
        """Start one thread per kind of request (bounded by ``max_seconds``)."""
        for kind in ("keepalive", "fresh", "post", "slow"):
            t = threading.Thread(target=self._loop, args=(kind, max_seconds), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def finish(self) -> None:
        """Stop and wait for the threads."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)

"""A legacy app for the ``vm`` runtime's tests and benchmark, and a platform that serves it.

The app is Python's http.server behind a Procfile: it takes the listening socket systemd
hands it (``LISTEN_FDS``, fd 3) and, on SIGTERM, finishes the request it is serving and
exits, so the next process takes the connections waiting in systemd's socket.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from roost.build.archive import pack_source
from roost.hosts import keys
from roost.orchestration import pipeline, services
from roost.orchestration.platform import Platform, ensure_local_credentials, open_platform
from roost.settings import Settings
from tests.conftest import free_port
from tests.hosts.sshhosts import TestHost

APP = r'''
import os, signal, socket, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

VERSION = open("VERSION").read().strip()
if VERSION == "broken":
    sys.exit("this release cannot start")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = " ".join([VERSION, os.environ.get("ROOST_RELEASE", "?"),
                         os.environ.get("GREETING", "-")]).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"served {self.path} by {VERSION}", flush=True)


server = HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.socket.close()
if os.environ.get("LISTEN_FDS") == "1":
    server.socket = socket.socket(fileno=3)  # systemd's socket: it outlives this process
else:
    server.socket = socket.create_server(("127.0.0.1", int(os.environ["PORT"])))
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
server.timeout = 0.1
print(f"{VERSION} listening as uid {os.getuid()}", flush=True)
while not stopping:
    server.handle_request()
'''


def source(tmp: Path, version: str) -> Path:
    """A packed source tree of the legacy app whose VERSION is ``version``."""
    src = tmp / f"src-{version}"
    src.mkdir(parents=True, exist_ok=True)
    (src / "app.py").write_text(APP)
    (src / "VERSION").write_text(version + "\n")
    (src / "Procfile").write_text("web: python3 app.py\n")
    (src / "static").mkdir(exist_ok=True)
    (src / "static" / "app.css").write_text(f"/* {version} */ body {{ margin: 0 }}\n")
    return pack_source(src, tmp / f"{version}.tar.gz")


@contextlib.contextmanager
def vm_platform(home: Path, db_url: str) -> Iterator[Platform]:
    """A platform whose runtime (router, supervisor, vm runtime) runs; stopped after."""
    settings = Settings(home=home, database_url=db_url,
                        router_listen=f"127.0.0.1:{free_port()}", health_timeout_seconds=30,
                        grace_seconds=5)
    platform = open_platform(settings)
    ensure_local_credentials(platform)
    runtime = services.runtime(platform)
    runtime.start()
    try:
        yield platform
    finally:
        (platform.runtime or runtime).stop()  # a test may have started another one
        platform.runtime = None
        platform.engine.dispose()


def add_host(api: Any, host: TestHost, name: str, key: Path) -> None:
    """Add a test VM as a host over the API (its key pinned)."""
    r = api.post("/api/v1/hosts", json={
        "name": name, "url": f"ssh://root@{host.address}", "roles": ["legacy"],
        "host_key": keys.scan(host.address, host.port).fingerprint,
        "private_key": key.read_text()})
    assert r.status_code == 201, r.text


def deploy(platform: Platform, app: str, archive: Path) -> int:
    """Run the whole deploy pipeline; the new release's number."""
    return pipeline.deploy_source(platform, app, archive, "test", lambda e: None).number


def get(platform: Platform, app: str, timeout: float = 10.0) -> httpx.Response:
    """GET / of ``app`` through the router."""
    return httpx.get(f"http://{platform.settings.router_listen}/",
                     headers={"Host": f"{app}.{platform.settings.base_domain}"},
                     timeout=timeout)


@dataclass
class Load:
    """A bounded request loop through the router, in a thread: at most ``limit`` requests
    and ``seconds`` seconds; every failed request is kept."""

    platform: Platform
    app: str
    limit: int = 20_000
    seconds: float = 300.0
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    bodies: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)

    def _run(self) -> None:
        url = f"http://{self.platform.settings.router_listen}/"
        host = f"{self.app}.{self.platform.settings.base_domain}"
        deadline = time.monotonic() + self.seconds
        with httpx.Client(timeout=15) as client:
            for _ in range(self.limit):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    r = client.get(url, headers={"Host": host})
                except httpx.HTTPError as exc:
                    self.failed.append(f"{type(exc).__name__}: {exc}")
                    continue
                if r.status_code != 200:
                    self.failed.append(f"HTTP {r.status_code}: {r.text[:80]}")
                else:
                    self.ok += 1
                    self.bodies.add(r.text.split()[0])

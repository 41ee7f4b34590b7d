"""Shared by the runtime benchmarks: a real router + supervisor and a gunicorn test app."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from roost.runtime.limits import ResourceLimits
from roost.runtime.logs import AppLogs
from roost.runtime.model import ReleaseSpec
from roost.runtime.router import Router
from roost.runtime.spawn import free_port
from roost.runtime.supervisor import Limits, Supervisor

BIN = Path(sys.executable).parent
BENCH_CPU = float(os.cpu_count() or 1)
HOST = "bench.localhost"
APP = '''
import os, time
RELEASE = os.environ.get("ROOST_RELEASE", "?").encode()

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        time.sleep(0.3)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    out = RELEASE + b" " + str(len(body)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(out)))])
    return [out]
'''
def gunicorn(workers: int = 2, threads: int = 8) -> str:
    """The web command: gunicorn's gthread worker keeps client connections alive."""
    return (f"{BIN}/gunicorn app:app --bind 127.0.0.1:$PORT -k gthread --workers {workers} "
            f"--threads {threads} --graceful-timeout 15 --keep-alive 5")


@dataclass
class Bench:
    """A router and supervisor on free ports, and a directory for releases."""

    router: Router
    supervisor: Supervisor
    router_port: int
    root: Path

    def spec(self, release: int, mode: str, app: str = "bench",
             web: str | None = None) -> ReleaseSpec:
        """Release ``release`` of the bench app, in socket or port mode."""
        directory = self.root / "apps" / app / f"v{release}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "app.py").write_text(APP)
        app_json = {"roost": {"listen": mode},
                    "healthchecks": {"web": [{"type": "startup", "path": "/health"}]}}
        (directory / "app.json").write_text(json.dumps(app_json))
        return ReleaseSpec(app=app, release=release, directory=directory, env={},
                           process_types={"web": web or gunicorn()}, app_json=app_json)

    def direct_address(self, app: str = "bench") -> str:
        """host:port of the app itself, bypassing the router."""
        state = self.supervisor.apps[app]
        if state.shared_address:
            return state.shared_address
        web = [p.address for p in state.procs.values() if p.ptype == "web" and p.address]
        return str(web[0])


@contextlib.contextmanager
def bench_platform(grace: float = 15.0, sandbox: bool = True) -> Iterator[Bench]:
    """Start Caddy and a supervisor in a temporary directory; stop both afterwards.
    Apps run sandboxed (seeing the bench venv read-only) unless ``sandbox`` is False; their
    cgroup may use every core (``BENCH_CPU``), so a benchmark measures the sandbox and the
    router, not the default one-CPU quota, which an unsandboxed process does not get."""
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        root = Path(tmp)
        port = free_port()
        router = Router(f"127.0.0.1:{port}", root / "router")
        router.start()
        sup = Supervisor(router, AppLogs(root / "logs"),
                         Limits(health_timeout=30, grace=grace, max_per_type=8, sandbox=sandbox,
                                sandbox_paths=(sys.prefix, sys.base_prefix),
                                resources=ResourceLimits(cpu=BENCH_CPU)))
        sup.start()
        try:
            yield Bench(router, sup, port, root)
        finally:
            sup.stop()
            router.stop()

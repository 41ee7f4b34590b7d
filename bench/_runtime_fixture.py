"""Shared set-up for the runtime benchmarks: a router, a supervisor and a gunicorn app."""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path

from roost.runtime.logs import AppLogs
from roost.runtime.model import ReleaseSpec
from roost.runtime.router import Router
from roost.runtime.supervisor import Limits, Supervisor

BIN = Path(sys.executable).parent
APP = '''
import os, time
def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(0.2)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [os.environ.get("ROOST_RELEASE", "?").encode()]
'''


def free_port() -> int:
    """A free port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bench:
    """Router + supervisor in a temporary directory."""

    def __init__(self, workers: int = 4, threads: int = 1) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="roost-bench-"))
        self.port = free_port()
        self.router = Router(f"127.0.0.1:{self.port}", f"127.0.0.1:{free_port()}",
                             self.tmp / "router")
        self.router.start()
        self.supervisor = Supervisor(self.router, AppLogs(self.tmp / "logs"),
                                     Limits(health_timeout=30, grace=15))
        self.supervisor.start()
        self.workers, self.threads = workers, threads

    def spec(self, release: int, mode: str) -> ReleaseSpec:
        """Release ``release`` of the bench app in ``mode``."""
        d = self.tmp / "app" / f"v{release}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "app.py").write_text(APP)
        worker = f"--threads {self.threads} -k gthread" if self.threads > 1 else ""
        cmd = (f"{BIN}/gunicorn app:app --bind 127.0.0.1:$PORT -w {self.workers} {worker} "
               "--graceful-timeout 10 --backlog 2048")
        return ReleaseSpec(app="bench", release=release, directory=d, env={},
                           process_types={"web": cmd},
                           app_json={"roost": {"listen": mode},
                                     "healthchecks": {"web": [{"path": "/"}]}})

    def close(self) -> None:
        """Stop everything."""
        self.supervisor.stop()
        self.router.stop()

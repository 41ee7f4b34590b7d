"""The router as its own unprivileged user: a port below 1024 through one capability."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.runtime import users
from roost.runtime.router import Router
from tests.runtime.test_upstreams import Hello
from tests.security.platform_procs import uid_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
NET_BIND_SERVICE = 1 << 10


def free_low_port() -> int:
    """A free port below 1024 on 127.0.0.1."""
    for port in range(1000, 600, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port below 1024")


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A directory the router user can traverse to its own (pytest's are root-only)."""
    base = Path(tempfile.mkdtemp(prefix="roost-router-"))
    os.chmod(base, 0o711)
    yield base / "router"
    shutil.rmtree(base, ignore_errors=True)


def status(pid: int, field: str) -> str:
    """One field of /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split()[1]
    raise AssertionError(f"no {field}")


def capabilities(pid: int, kind: str = "CapEff") -> int:
    """A capability set of a process (effective by default)."""
    return int(status(pid, kind), 16)


def test_the_router_serves_port_below_1024_as_its_own_user(state_dir: Path) -> None:
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    user = users.resolve_router("auto")
    assert user == users.ROUTER
    router = Router(f"127.0.0.1:{free_low_port()}", state_dir, run_dir=state_dir.parent / "run",
                    user=user, tune_kernel=False)
    router.start()
    try:
        router.set_route("shop", ["shop.localhost"], [f"127.0.0.1:{app.server_port}"])
        page = httpx.get(f"http://{router.listen}/", headers={"Host": "shop.localhost"},
                         timeout=10)
        assert page.status_code == 200
        assert router.proc is not None and router.resolver is not None
        assert uid_of(router.proc.pid) == uid_of(router.resolver.pid) == users.ids(user)[0]
        assert capabilities(router.proc.pid) == NET_BIND_SERVICE  # that one, nothing else
        assert capabilities(router.proc.pid, "CapBnd") == NET_BIND_SERVICE  # not even later
        assert status(router.proc.pid, "NoNewPrivs") == "1"
        assert capabilities(router.resolver.pid) == 0
    finally:
        router.stop()
        app.shutdown()

"""A real `roost up` subprocess on free ports with a temporary ROOST_HOME."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for

ROOST = str(Path(sys.executable).with_name("roost"))


@dataclass
class Server:
    """A running `roost up` and the environment that points the CLI at it."""

    proc: subprocess.Popen[bytes]
    home: Path
    url: str
    env: dict[str, str]
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    def roost(self, *args: str, input: str | None = None, timeout: float = 120
              ) -> subprocess.CompletedProcess[str]:
        """Run the installed `roost` command against this server."""
        return subprocess.run([ROOST, *args], env=self.env, capture_output=True, text=True,
                              input=input, timeout=timeout)


def home_for(tmp: Path) -> Path:
    """The ROOST_HOME of a test: outside pytest's own temporary root, which pytest keeps at
    mode 700 (resetting it at each worker's start), so that the unprivileged user apps run as
    (Roost runs as root here) can reach the releases inside."""
    digest = hashlib.sha256(str(tmp).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "roost-e2e" / digest / "home"


@pytest.fixture(autouse=True)
def _remove_home(tmp_path: Path) -> Iterator[None]:
    yield
    shutil.rmtree(home_for(tmp_path).parent, ignore_errors=True)


def shared(tmp: Path) -> Path:
    """A directory of the test that its apps and builds see read-only."""
    path = tmp / "shared"
    path.mkdir(exist_ok=True)
    path.chmod(0o755)
    return path


class PortTaken(AssertionError):
    """`roost up` found a port it was given taken (free_port() gave it back, and another
    process of the busy test run took it first)."""


def start_server(tmp: Path, extra_env: dict[str, str] | None = None,
                 timeout: float = 60) -> Server:
    """Start `roost up` and wait (up to ``timeout`` s) until its health endpoint answers;
    started again on other free ports when one of those it was given was taken."""
    for attempt in range(3):
        try:
            return _start_server(tmp, extra_env, timeout)
        except PortTaken:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _start_server(tmp: Path, extra_env: dict[str, str] | None, timeout: float) -> Server:
    home = home_for(tmp)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env.update({"ROOST_HOME": str(home), "ROOST_LISTEN": f"127.0.0.1:{port}",
                "ROOST_ROUTER_LISTEN": f"127.0.0.1:{free_port()}",
                "ROOST_MAIL_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
                "ROOST_ADVISORY_SOURCES": "",  # tests never fetch OSV from the internet
                # `roost login` configures git's credential helper: in the test's own file
                "GIT_CONFIG_GLOBAL": str(tmp / "gitconfig"),
                # Sandboxes see, read-only, the session's local wheelhouse (tests/wheelhouse.py)
                # and the test's shared/ directory (where a test leaves signals for its apps).
                "ROOST_SANDBOX_PATHS": ",".join(
                    [str(shared(tmp)), *(str(p) for p in tmp.parent.glob("wheelhouse*"))])})
    env.update(extra_env or {})
    port = int(env["ROOST_LISTEN"].rpartition(":")[2])
    log = tmp / f"roost-up-{port}.log"
    proc = subprocess.Popen([ROOST, "up"], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            said = log.read_text()
            taken = "is already in use" in said
            raise (PortTaken if taken else AssertionError)(
                f"roost up exited {proc.returncode}:\n{said}")
        # Only this process's answer counts: free_port() gives a port back, and a `roost up`
        # of another test could take it before this one does (this one then exits). This
        # one says so once it found the port free, before it starts serving.
        if "Roost control plane: " not in log.read_text(errors="replace"):
            return False
        try:
            return httpx.get(url + "/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=timeout)
    return Server(proc=proc, home=home, url=url, env=env, log=log)


def stop_server(server: Server) -> None:
    """Stop `roost up` with SIGTERM and wait for it."""
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh `roost up` on SQLite."""
    srv = start_server(tmp_path)
    yield srv
    stop_server(srv)

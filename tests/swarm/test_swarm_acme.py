"""HTTPS for a custom domain on a swarm, from a real ACME CA over the HTTP challenge.

The CA is Pebble (Let's Encrypt's test server, Debian's ``pebble``) on 127.0.0.1: as Let's
Encrypt does on port 80, it looks the domain up (in pebble-challtestsrv's DNS, which
answers every name with the manager node's address) and fetches the challenge from the
routers' port there. The router sends it to the control plane's certificate issuer,
which answers it; Pebble then signs the certificate, and every node's router serves it.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, https_get, self_signed
from tests.e2e.conftest import Server
from tests.objectstore.conftest import moto_endpoint  # noqa: F401
from tests.swarm.cluster import Cluster, wait_until
from tests.swarm.conftest import APP, swarm_env, swarm_roost

pytestmark = pytest.mark.xdist_group("swarm")  # one cluster with --dist loadgroup


@dataclass
class Pebble:
    """A running Pebble: its ACME directory, the file its HTTPS certificate is in, and the
    port it fetches HTTP challenges from."""

    directory: str
    tls_root: Path
    http_port: int
    management: str
    log: Path

    def root(self, path: Path) -> Path:
        """Pebble's root certificate (what its certificates chain to), written to ``path``."""
        trust = ssl.create_default_context(cafile=str(self.tls_root))
        path.write_text(httpx.get(f"{self.management}/roots/0", verify=trust, timeout=10).text)
        return path


def _start(command: list[str], log: Path, env: dict[str, str] | None = None
           ) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


@pytest.fixture(scope="module")
def pebble(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    for tool in ("pebble", "pebble-challtestsrv"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/ensure-docker.sh installs Debian's pebble")
    tmp = tmp_path_factory.mktemp("pebble")
    cert, key = self_signed("localhost")
    (tmp / "cert.pem").write_text(cert)
    (tmp / "key.pem").write_text(key)
    acme, management, dns, http_port = free_port(), free_port(), free_port(), free_port()
    (tmp / "pebble.json").write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{acme}", "managementListenAddress": f"127.0.0.1:{management}",
        "certificate": str(tmp / "cert.pem"), "privateKey": str(tmp / "key.pem"),
        "httpPort": http_port, "tlsPort": free_port(), "ocspResponderURL": "",
        "externalAccountBindingRequired": False}}))
    names = _start(["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns}",
                    "-defaultIPv4", cluster.manager.address, "-defaultIPv6", "",
                    "-http01", "", "-https01", "", "-tlsalpn01", "",
                    "-management", f"127.0.0.1:{free_port()}"], tmp / "dns.log")
    ca = _start(["pebble", "-config", str(tmp / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns}"],
                tmp / "pebble.log", {"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1",
                                     "PEBBLE_WFE_NONCEREJECT": "0"})
    directory = f"https://localhost:{acme}/dir"
    trust = ssl.create_default_context(cafile=str(tmp / "cert.pem"))

    def up() -> bool:
        try:
            return httpx.get(directory, verify=trust, timeout=2).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=30)
        yield Pebble(directory, tmp / "cert.pem", http_port,
                     f"https://localhost:{management}", tmp / "pebble.log")
    finally:
        for proc in (ca, names):
            proc.terminate()
            proc.wait(10)


@pytest.fixture(scope="module")
def acme_server(cluster: Cluster, pebble: Pebble, tmp_path_factory: pytest.TempPathFactory,
                moto_endpoint: str) -> Iterator[Server]:  # noqa: F811
    """`roost up` on the swarm with ``ROOST_TLS_ISSUER=acme`` and Pebble as its CA; its
    routers listen on the port Pebble fetches challenges from."""
    cluster.ensure_running()  # test_swarm.py ends with both engines stopped
    env = swarm_env(cluster, moto_endpoint, ROOST_TLS_ISSUER="acme",
                    ROOST_ACME_CA=pebble.directory, ROOST_ACME_CA_ROOT=str(pebble.tls_root),
                    ROOST_ROUTER_LISTEN=f"{cluster.manager.address}:{pebble.http_port}")
    with swarm_roost(cluster, tmp_path_factory.mktemp("swarm-acme"), env) as srv:
        yield srv


def test_a_custom_domain_gets_its_certificate_from_an_acme_ca(
        acme_server: Server, cluster: Cluster, pebble: Pebble, tmp_path: Path) -> None:
    srv, domain = acme_server, "www.acme-shop.example"
    tls_port = int(srv.env["ROOST_ROUTER_TLS_LISTEN"].rpartition(":")[2])
    for args in (("apps", "create", "ac"), ("deploy", "ac", str(APP))):
        done = srv.roost(*args, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    done = srv.roost("domains", "add", "ac", domain)
    assert done.returncode == 0, done.stdout + done.stderr
    root = pebble.root(tmp_path / "pebble-root.pem")

    def secure() -> bool:
        try:
            status, body, cert = https_get(cluster.manager.address, tls_port, domain, root)
        except OSError:  # no certificate for the name yet (or not one from Pebble)
            return False
        assert ("DNS", domain) in cert["subjectAltName"]
        return status == 200 and body.startswith("hello v")

    # It chains to Pebble's root: Pebble fetched the challenge through the router from the
    # issuer, and signed. (Caddy tries again a minute after a failed challenge.)
    try:
        wait_until(secure, timeout=300)
    except BaseException:  # say why: the issuer's and the CA's own words
        issuer = srv.home / "swarm-certs" / "caddy.log"
        print("issuer log:", issuer.read_text()[-6000:] if issuer.exists() else "none")
        print("pebble log:", pebble.log.read_text()[-4000:])
        router = cluster.manager.client().services.get("roost-router")
        print("router log:", b"".join(router.logs(stdout=True, stderr=True, tail=60))
              .decode(errors="replace")[-8000:])
        raise
    assert "valid until" in srv.roost("domains", "ac").stdout


def test_routers_boot_sending_acme_challenges_to_the_issuer(
        acme_server: Server, cluster: Cluster) -> None:
    # A router that starts (a new node, a restart) sends challenges to the issuer from its
    # first request, not only once it has pulled its configuration a few seconds later.
    issuer = (acme_server.home / "swarm-certs" / "challenge-address").read_text().strip()
    client = cluster.manager.client()

    service = client.services.get("roost-router").id  # not an earlier one still stopping

    def routers() -> list[Any]:
        return [c for c in client.containers.list()
                if c.labels.get("com.docker.swarm.service.id") == service]

    wait_until(routers, timeout=60)
    router = routers()[0]
    # Docker mounts a task's secrets from files under its engine's data root (the router
    # image has nothing to print a file with).
    mounted = cluster.manager.root / "data" / "containers" / router.id / "mounts" / "secrets"
    boots = [json.loads(f.read_text()) for f in mounted.iterdir()]
    assert len(boots) == 1, [f.name for f in mounted.iterdir()]
    boot = boots[0]
    routes = boot["apps"]["http"]["servers"]["router"]["routes"]
    challenge = [r for r in routes
                 if r.get("match") == [{"path": ["/.well-known/acme-challenge/*"]}]]
    assert challenge, routes
    assert challenge[0]["handle"][0]["upstreams"] == [{"dial": issuer}]

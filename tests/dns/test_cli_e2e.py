"""`roost dns` and `roost domains` through the real CLI against a real `roost up`, with
PowerDNS as the provider: records round-trip through export/import, plan/apply, and a custom
domain served over HTTPS with a certificate from Caddy's internal issuer."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, wait_for
from tests.conftest import https_get as https_get_via
from tests.dns.conftest import zone_name
from tests.dns.helpers import pdns_rrsets
from tests.dns.test_drift_powerdns import ask
from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.test_foundation import ok


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, pdns: Any) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("dns-e2e")
    server = start_server(tmp, {
        "ROOST_DNS_POWERDNS_URL": pdns.api_url, "ROOST_DNS_POWERDNS_KEY": pdns.api_key,
        "ROOST_PUBLIC_IP": "127.0.0.1", "ROOST_ROUTER_TLS_LISTEN": f"127.0.0.1:{free_port()}",
        "ROOST_TLS_ISSUER": "internal", "ROOST_DNS_PROPAGATION_TIMEOUT_SECONDS": "30",
        # Monitors Roost makes check once a day: no probe asks a real resolver for a test name.
        "ROOST_APP_MONITOR_INTERVAL_SECONDS": "86400"})
    yield server
    stop_server(server)


def refused(server: Server, *args: str) -> str:
    result = server.roost(*args)
    assert result.returncode != 0, f"roost {' '.join(args)} should have been refused"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def https_get(server: Server, host: str, path: str = "/") -> tuple[int, str, dict[str, Any]]:
    """GET https://HOST/PATH through the router's HTTPS listener, verifying the certificate
    with the root of Caddy's internal issuer."""
    root = server.home / "run" / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    addr, _, port = server.env["ROOST_ROUTER_TLS_LISTEN"].rpartition(":")
    return https_get_via(addr, int(port), host, root, path)


def test_records_round_trip_and_plan_apply(srv: Server, pdns: Any, tmp_path: Path) -> None:
    zone = zone_name()
    ok(srv, "dns", "zones", "add", zone, "--provider", "powerdns")
    assert zone in ok(srv, "dns", "zones")
    ok(srv, "dns", "set", zone, "@", "A", "192.0.2.1", "--ttl", "300")
    ok(srv, "dns", "set", zone, "www", "CNAME", f"{zone}.")
    ok(srv, "dns", "set", zone, "@", "MX", f"10 mail.{zone}.")
    records = json.loads(ok(srv, "dns", "records", zone, "--json"))
    assert {(r["name"], r["type"]) for r in records} == {("@", "A"), ("www", "CNAME"),
                                                         ("@", "MX")}
    plan = ok(srv, "dns", "plan", zone)
    assert "3 to create" in plan and f"+ www.{zone} CNAME {zone}." in plan
    assert "ownership records" in plan
    applied = ok(srv, "dns", "apply", zone)
    assert "applied 6 changes" in applied
    assert ask(pdns, f"www.{zone}", "CNAME") == [f"{zone}."]
    assert "no changes" in ok(srv, "dns", "plan", zone)

    exported = tmp_path / "zone.yaml"
    ok(srv, "dns", "export", zone, "-o", str(exported))
    ok(srv, "dns", "unset", zone, "www")
    assert "- www." in ok(srv, "dns", "plan", zone)
    ok(srv, "dns", "import", zone, str(exported))
    assert "no changes" in ok(srv, "dns", "plan", zone)
    assert ok(srv, "dns", "export", zone).strip() == exported.read_text().strip()

    # Bad input: one line each, non-zero exit, nothing stored or sent.
    before = ok(srv, "dns", "records", zone, "--json")
    assert "invalid record name" in refused(srv, "dns", "set", zone, "bad name!", "A", "1.2.3.4")
    assert "cannot be at the apex" in refused(srv, "dns", "set", zone, "@", "CNAME", "x.net.")
    assert "out of range" in refused(srv, "dns", "set", zone, "www2", "A", "192.0.2.9",
                                     "--ttl", "0")
    assert "does not manage the zone" in refused(srv, "dns", "set", "other.example.org", "www",
                                                 "A", "192.0.2.9")
    assert "powerdns does not support SPF" in refused(srv, "dns", "set", zone, "@", "SPF",
                                                      "v=spf1 -all")
    assert ok(srv, "dns", "records", zone, "--json") == before
    live = pdns_rrsets(pdns.api_url, pdns.api_key, zone)
    assert not [k for k in live if k[0].startswith("www2.")]

    # Removing the zone: confirmed by its name; by default the provider keeps the records.
    assert f"--confirm {zone}" in refused(srv, "dns", "zones", "remove", zone)
    removed = ok(srv, "dns", "zones", "remove", zone, "--confirm", zone)
    assert "left at the provider" in removed and "3 records forgotten" in removed
    assert zone not in ok(srv, "dns", "zones")
    assert pdns_rrsets(pdns.api_url, pdns.api_key, zone) == live
    ok(srv, "dns", "zones", "add", zone, "--provider", "powerdns")
    ok(srv, "dns", "import", zone, str(exported))
    removed = ok(srv, "dns", "zones", "remove", zone, "--confirm", zone, "--delete-records")
    assert f"- www.{zone} CNAME {zone}." in removed and "6 changes applied" in removed
    assert {kind for _, kind in pdns_rrsets(pdns.api_url, pdns.api_key, zone)} <= {"SOA", "NS"}


def test_a_custom_domain_configures_itself_and_is_served_over_https(srv: Server, pdns: Any,
                                                                    tmp_path: Path) -> None:
    zone = zone_name()
    ok(srv, "dns", "zones", "add", zone, "--provider", "powerdns", "--option",
       f"nameservers={pdns.nameserver}")
    ok(srv, "apps", "create", "shop")
    src = tmp_path / "shop"
    src.mkdir()
    (src / "Procfile").write_text("web: python3 -m http.server $PORT --bind 127.0.0.1\n")
    (src / "index.html").write_text("hello from shop\n")
    deployed = srv.roost("deploy", "shop", str(src), timeout=300)
    assert deployed.returncode == 0, deployed.stderr

    host = f"www.{zone}"
    added = ok(srv, "domains", "add", "shop", host)
    assert "A record" in added and "answered by its name servers" in added
    assert ask(pdns, host, "A") == ["127.0.0.1"]

    def served() -> tuple[int, str, dict[str, Any]] | None:
        try:
            return https_get(srv, host)
        except (OSError, ssl.SSLError):
            return None

    status, body, cert = wait_for(served, timeout=60)  # type: ignore[misc]
    assert status == 200 and "hello from shop" in body
    assert dict(x[0] for x in cert["issuer"])["commonName"].startswith("Caddy Local Authority")
    with pytest.raises(ssl.SSLError):  # no certificate for a name Roost does not know
        https_get(srv, f"evil.{zone}")

    listed = json.loads(ok(srv, "domains", "shop", "--json"))
    assert [(d["hostname"], d["dns"], d["monitor"] != "none") for d in listed] == [
        (host, "live", True)]
    assert listed[0]["certificate"].startswith("valid until")
    table = ok(srv, "domains", "shop")
    assert host in table and "live (A in" in table

    ok(srv, "domains", "remove", "shop", host)
    assert ask(pdns, host, "A") == []
    assert json.loads(ok(srv, "domains", "shop", "--json")) == []
    monitors = json.loads(ok(srv, "monitors", "shop", "--json"))
    assert not [m for m in monitors if host in m["target"]]

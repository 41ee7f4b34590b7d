"""Custom domains that configure themselves, on the platform (no router running): the record
in the managed zone, answered by PowerDNS over DNS, the monitor, the ask endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.dns.helpers import pdns_rrsets
from tests.dns.test_apply_route53 import put
from tests.dns.test_drift_powerdns import ask
from tests.dns.test_zones import add_zone


@pytest.fixture
def dns_settings() -> dict[str, Any]:
    return {"public_ip": ["127.0.0.1"], "public_host": "edge.roost.example.net",
            "dns_propagation_timeout_seconds": 10.0, "router_tls_listen": "127.0.0.1:8443",
            "tls_issuer": "internal"}


def app(api: Any, name: str = "shop") -> str:
    assert api.post("/api/v1/apps", json={"name": name}).status_code == 201
    return name


def pdns_zone(api: Any, pdns: Any) -> str:
    return add_zone(api, "powerdns", options={"nameservers": pdns.nameserver})


def monitors_of(platform: Any, name: str) -> list[Any]:
    from roost.store.models.uptime import Monitor

    with platform.sessions.begin() as session:
        return [(m.target, m.owner, m.verify_tls) for m in
                session.scalars(select(Monitor).where(Monitor.app_name == name))]


def test_a_domain_in_a_managed_zone_gets_its_record_then_a_monitor_and_a_certificate_ask(
        dns_api: Any, dns_platform: Any, pdns: Any) -> None:
    shop = app(dns_api)
    zone = pdns_zone(dns_api, pdns)
    assert dns_api.get("/api/v1/tls/ask", params={"domain": f"www.{zone}"}).status_code == 404

    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": f"www.{zone}"})
    assert r.status_code == 201, r.text
    shown = r.json()
    assert shown["dns"] == "live" and shown["record"] == "CNAME" and shown["zone"] == zone
    assert ask(pdns, f"www.{zone}", "CNAME") == ["edge.roost.example.net."]
    assert monitors_of(dns_platform, shop) == [(f"https://www.{zone}/", "domain", False)]
    assert dns_api.get("/api/v1/tls/ask", params={"domain": f"www.{zone}"}).status_code == 200
    assert dns_api.get("/api/v1/tls/ask", params={"domain": f"evil.{zone}"}).status_code == 404
    records = dns_api.get(f"/api/v1/dns/zones/{zone}/records").json()
    assert [(r["name"], r["type"], r["owner"]) for r in records] == [
        ("www", "CNAME", f"domain:{shop}")]

    # The apex gets an A record (no CNAME at the apex).
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": zone})
    assert r.status_code == 201 and r.json()["record"] == "A", r.text
    assert ask(pdns, zone, "A") == ["127.0.0.1"]

    listed = {d["hostname"]: d for d in dns_api.get(f"/api/v1/apps/{shop}/domains").json()}
    assert listed[f"www.{zone}"]["dns"] == "live"
    assert listed[f"www.{zone}"]["monitor"] == "unknown"
    assert listed[f"www.{zone}"]["certificate"].startswith("none yet")

    # Removing the domain removes its record (at the provider too) and its monitor.
    r = dns_api.delete(f"/api/v1/apps/{shop}/domains/www.{zone}")
    assert r.status_code == 200, r.text
    assert (f"www.{zone}", "CNAME") not in pdns_rrsets(pdns.api_url, pdns.api_key, zone)
    assert ask(pdns, f"www.{zone}", "CNAME") == []
    assert monitors_of(dns_platform, shop) == [(f"https://{zone}/", "domain", False)]
    assert dns_api.get("/api/v1/tls/ask", params={"domain": f"www.{zone}"}).status_code == 404


def test_a_record_made_by_someone_else_is_not_taken_over(dns_api: Any, pdns: Any) -> None:
    shop = app(dns_api)
    zone = pdns_zone(dns_api, pdns)
    put(dns_api, zone, "www", "A", "192.0.2.50")
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": f"www.{zone}"})
    assert r.status_code == 409 and "already has a A record" in r.json()["error"]["message"]
    assert dns_api.get(f"/api/v1/apps/{shop}/domains").json() == []
    assert pdns_rrsets(pdns.api_url, pdns.api_key, zone) == {}  # nothing was applied


@pytest.mark.parametrize(("host", "status", "says"), [
    ("not a host", 422, "invalid hostname"), ("shop.localhost", 409, "already routes to shop")])
def test_bad_domains_are_refused(dns_api: Any, host: str, status: int, says: str) -> None:
    shop = app(dns_api)
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": host})
    assert r.status_code == status and says in r.json()["error"]["message"]
    assert dns_api.get(f"/api/v1/apps/{shop}/domains").json() == []


def test_a_domain_outside_managed_zones_is_routed_as_before(dns_api: Any,
                                                            dns_platform: Any) -> None:
    shop = app(dns_api)
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": "www.elsewhere.example"})
    assert r.status_code == 201 and r.json()["dns"] == "unmanaged"
    assert dns_api.get("/api/v1/tls/ask",
                       params={"domain": "www.elsewhere.example"}).status_code == 200
    assert monitors_of(dns_platform, shop) == []  # its DNS is not known to point here
    assert dns_api.delete(f"/api/v1/apps/{shop}/domains/www.elsewhere.example").status_code == 200
    assert dns_api.get(f"/api/v1/apps/{shop}/domains").json() == []


def test_a_domain_whose_name_servers_do_not_answer_stays_pending(dns_api: Any,
                                                                 dns_platform: Any,
                                                                 pdns: Any) -> None:
    from roost.orchestration import domain_flow
    from roost.store.models.dns import DnsZone
    from tests.conftest import free_port

    shop = app(dns_api)
    zone = add_zone(dns_api, "powerdns", options={"nameservers": f"127.0.0.1:{free_port()}"})
    object.__setattr__(dns_platform.settings, "dns_propagation_timeout_seconds", 0.0)
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": f"api.{zone}"})
    assert r.status_code == 201 and r.json()["dns"] == "pending", r.text
    assert "waiting for the name servers" in r.json()["message"]
    assert dns_api.get("/api/v1/tls/ask", params={"domain": f"api.{zone}"}).status_code == 404
    assert monitors_of(dns_platform, shop) == []

    # The operator points the zone at its real name server: the next pass makes it live.
    with dns_platform.sessions.begin() as session:
        row = session.scalar(select(DnsZone).where(DnsZone.name == zone))
        row.options = {"nameservers": pdns.nameserver}
    domain_flow.recheck_pending(dns_platform)
    assert dns_api.get(f"/api/v1/apps/{shop}/domains").json()[0]["dns"] == "live"
    assert dns_api.get("/api/v1/tls/ask", params={"domain": f"api.{zone}"}).status_code == 200


def test_without_a_public_address_nothing_is_changed(dns_api: Any, dns_platform: Any,
                                                     pdns: Any) -> None:
    shop = app(dns_api)
    zone = pdns_zone(dns_api, pdns)
    object.__setattr__(dns_platform.settings, "public_ip", [])
    object.__setattr__(dns_platform.settings, "public_host", "")
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": f"www.{zone}"})
    assert r.status_code == 422 and "set ROOST_PUBLIC_IP" in r.json()["error"]["message"]
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/records").json() == []
    assert dns_api.get(f"/api/v1/apps/{shop}/domains").json() == []


def test_ensure_records_for_another_addon(dns_api: Any, dns_platform: Any, pdns: Any) -> None:
    """What the email add-on calls: its records, owned by it, applied; a second call with
    fewer records removes the one left out; a user's record is never taken over."""
    from roost.addons.base import AddonEnv
    from roost.dns.service import ensure_records
    from roost.errors import InvalidInput

    zone = pdns_zone(dns_api, pdns)
    env = AddonEnv(settings=dns_platform.settings, sessions=dns_platform.sessions,
                   objects=dns_platform.objects)
    wanted = [{"name": "@", "type": "TXT", "values": ["v=spf1 include:mail.example.net -all"]},
              {"name": "mx._domainkey", "type": "TXT", "values": ["v=DKIM1; k=rsa; p=MIGf"]},
              {"name": "_dmarc", "type": "TXT", "values": ["v=DMARC1; p=none"]}]
    plan = ensure_records(env, zone, wanted, owner="email:shop")
    assert plan is not None and plan.view()["counts"]["create"] == 3
    assert ask(pdns, f"_dmarc.{zone}", "TXT") == ['"v=DMARC1; p=none"']
    ensure_records(env, zone, wanted[:2], owner="email:shop")
    assert ask(pdns, f"_dmarc.{zone}", "TXT") == []
    put(dns_api, zone, "_dmarc", "TXT", "v=DMARC1; p=reject")
    with pytest.raises(InvalidInput, match="belongs to user"):
        ensure_records(env, zone, wanted, owner="email:shop")

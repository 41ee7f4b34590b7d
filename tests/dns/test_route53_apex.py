"""A custom domain at the apex of a Route53 zone (where a CNAME may not be), against moto:
A/AAAA records to ROOST_PUBLIC_IP, else a Route53 alias to ROOST_PUBLIC_HOST's records in the
same zone; what Route53 cannot alias is refused in one line with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dns.helpers import r53, r53_records, r53_zone_id
from tests.dns.test_apply_route53 import put
from tests.dns.test_domains import app
from tests.dns.test_zones import add_zone


@pytest.fixture
def dns_settings() -> dict[str, Any]:
    return {"public_ip": [], "public_host": "", "dns_propagation_timeout_seconds": 0.0}


def public(platform: Any, ips: list[str], host: str) -> None:
    object.__setattr__(platform.settings, "public_ip", ips)
    object.__setattr__(platform.settings, "public_host", host)


def alias_targets(moto_url: str, zone: str) -> dict[str, dict[str, Any]]:
    """The apex's alias record sets at moto, by type."""
    zid = r53_zone_id(moto_url, zone)
    sets = r53(moto_url).list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"]
    return {s["Type"]: s["AliasTarget"] for s in sets
            if s["Name"] == zone + "." and "AliasTarget" in s}


def test_the_apex_is_a_route53_alias_to_the_public_hosts_records(dns_api: Any,
                                                                 dns_platform: Any,
                                                                 moto: Any) -> None:
    shop = app(dns_api)
    zone = add_zone(dns_api)
    public(dns_platform, [], f"edge.{zone}")
    put(dns_api, zone, "edge", "A", "192.0.2.10")
    put(dns_api, zone, "edge", "AAAA", "2001:db8::10")
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200

    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": zone})
    assert r.status_code == 201, r.text
    assert r.json()["record"] == "Route53Provider/ALIAS" and r.json()["dns"] == "live"
    targets = alias_targets(moto.url, zone)
    assert set(targets) == {"A", "AAAA"}
    assert {t["DNSName"].rstrip(".") for t in targets.values()} == {f"edge.{zone}"}
    records = {(r["name"], r["type"]): r for r in
               dns_api.get(f"/api/v1/dns/zones/{zone}/records").json()}
    assert records[("@", "Route53Provider/ALIAS")]["values"] == ["edge A", "edge AAAA"]
    assert records[("@", "Route53Provider/ALIAS")]["owner"] == f"domain:{shop}"
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["changes"] == []
    assert dns_api.get("/api/v1/tls/ask", params={"domain": zone}).status_code == 200

    # Removing the domain removes the alias at Route53; the public host's records stay.
    assert dns_api.delete(f"/api/v1/apps/{shop}/domains/{zone}").status_code == 200
    assert alias_targets(moto.url, zone) == {}
    assert r53_records(moto.url, zone)[(f"edge.{zone}", "A")] == ["192.0.2.10"]


def test_with_a_public_ip_the_apex_gets_a_and_aaaa_records(dns_api: Any, dns_platform: Any,
                                                          moto: Any) -> None:
    shop = app(dns_api)
    zone = add_zone(dns_api)
    public(dns_platform, ["192.0.2.20", "2001:db8::20"], "edge.roost.example.net")
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": zone})
    assert r.status_code == 201 and r.json()["record"] == "A", r.text
    live = r53_records(moto.url, zone)
    assert live[(zone, "A")] == ["192.0.2.20"] and live[(zone, "AAAA")] == ["2001:db8::20"]
    assert (zone, "CNAME") not in live and alias_targets(moto.url, zone) == {}
    # A subdomain is a CNAME to the public host.
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": f"www.{zone}"})
    assert r.status_code == 201 and r.json()["record"] == "CNAME", r.text
    assert r53_records(moto.url, zone)[(f"www.{zone}", "CNAME")] == ["edge.roost.example.net."]


@pytest.mark.parametrize(("host", "says"), [
    ("edge.roost.example.net", "Route53 cannot alias the apex"),
    ("edge.{zone}", "has none: `roost dns set {zone} edge A ADDRESS`"),
    ("my-lb-1.elb.us-east-1.amazonaws.com", "alias_hosted_zone_id=")])
def test_what_route53_cannot_alias_is_refused_and_nothing_changes(
        dns_api: Any, dns_platform: Any, moto: Any, host: str, says: str) -> None:
    shop = app(dns_api)
    zone = add_zone(dns_api)
    public(dns_platform, [], host.format(zone=zone))
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": zone})
    assert r.status_code == 422 and says.format(zone=zone) in r.json()["error"]["message"]
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/records").json() == []
    assert dns_api.get(f"/api/v1/apps/{shop}/domains").json() == []
    assert r53_zone_id(moto.url, zone) is None  # nothing was sent to Route53


def test_a_route53_alias_to_a_load_balancer_with_its_hosted_zone_id(
        dns_api: Any, dns_platform: Any, moto: Any) -> None:
    shop = app(dns_api)
    zone = add_zone(dns_api, options={"alias_hosted_zone_id": "Z35SXDOTRQ7X7K"})
    public(dns_platform, [], "my-lb-1.elb.us-east-1.amazonaws.com")
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": zone})
    assert r.status_code == 201 and r.json()["dns"] == "live", r.text
    target = alias_targets(moto.url, zone)["A"]
    assert target["DNSName"].rstrip(".") == "my-lb-1.elb.us-east-1.amazonaws.com"
    assert target["HostedZoneId"] == "Z35SXDOTRQ7X7K"
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["changes"] == []


def test_a_route53_alias_can_be_set_by_hand(dns_api: Any, moto: Any) -> None:
    zone = add_zone(dns_api)
    put(dns_api, zone, "www", "A", "192.0.2.30")
    put(dns_api, zone, "@", "route53provider/alias", "www A")
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    assert alias_targets(moto.url, zone)["A"]["DNSName"].rstrip(".") == f"www.{zone}"
    r = dns_api.put(f"/api/v1/dns/zones/{zone}/records",
                    json={"name": "@", "type": "Route53Provider/ALIAS", "values": ["www"]})
    assert r.status_code == 422 and "NAME TYPE" in r.json()["error"]["message"]
    assert dns_api.delete(f"/api/v1/dns/zones/{zone}/records/@",
                          params={"type": "Route53Provider/ALIAS"}).status_code == 200
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    assert alias_targets(moto.url, zone) == {}

"""Zones and records in the store, through the API: add, set, unset, list, export, import,
and every kind of bad input refused in one line with nothing stored and nothing sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dns.conftest import zone_name
from tests.dns.helpers import pdns_rrsets, r53_zone_id


def add_zone(api: Any, provider: str = "route53", **extra: Any) -> str:
    name = zone_name()
    r = api.post("/api/v1/dns/zones", json={"name": name, "provider": provider, **extra})
    assert r.status_code == 201, r.text
    return name


def test_zone_and_records_round_trip_through_export_and_import(dns_api: Any) -> None:
    zone = add_zone(dns_api)
    assert [z["name"] for z in dns_api.get("/api/v1/dns/zones").json()] == [zone]
    for body in ({"name": "@", "type": "A", "values": ["192.0.2.1", "192.0.2.2"], "ttl": 300},
                 {"name": "www", "type": "CNAME", "values": [f"{zone}."]},
                 {"name": "@", "type": "MX", "values": [f"10 mx1.{zone}.", f"20 mx2.{zone}."]},
                 {"name": "@", "type": "TXT", "values": ["v=spf1 include:_spf.example.net -all",
                                                         "a;b"]}):
        r = dns_api.put(f"/api/v1/dns/zones/{zone}/records", json=body)
        assert r.status_code == 200, r.text
    listed = {(r["name"], r["type"]): r for r in
              dns_api.get(f"/api/v1/dns/zones/{zone}/records").json()}
    assert listed[("@", "A")]["values"] == ["192.0.2.1", "192.0.2.2"]
    assert listed[("@", "A")]["ttl"] == 300
    assert listed[("www", "CNAME")]["fqdn"] == f"www.{zone}"
    assert listed[("@", "MX")]["values"] == [f"10 mx1.{zone}.", f"20 mx2.{zone}."]

    exported = dns_api.get(f"/api/v1/dns/zones/{zone}/export").json()["yaml"]
    assert "type: CNAME" in exported and "preference: 10" in exported or "10 mx1" in exported

    # Import it into a second zone: the same records come out.
    other = add_zone(dns_api)
    r = dns_api.post(f"/api/v1/dns/zones/{other}/import",
                     json={"yaml": exported.replace(zone, other)})
    assert r.status_code == 200, r.text
    assert r.json()["records"] == 4
    again = dns_api.get(f"/api/v1/dns/zones/{other}/export").json()["yaml"]
    assert again == exported.replace(zone, other)

    # Unset one type, then a whole name.
    assert dns_api.delete(f"/api/v1/dns/zones/{zone}/records/@",
                          params={"type": "MX"}).json()["removed"] == ["MX"]
    assert dns_api.delete(f"/api/v1/dns/zones/{zone}/records/www").json()["removed"] == ["CNAME"]
    left = {(r["name"], r["type"]) for r in dns_api.get(f"/api/v1/dns/zones/{zone}/records").json()}
    assert left == {("@", "A"), ("@", "TXT")}


@pytest.mark.parametrize(("body", "says"), [
    ({"name": "bad name!", "type": "A", "values": ["192.0.2.1"]}, "invalid record name"),
    ({"name": "@", "type": "CNAME", "values": ["target.example.net."]}, "cannot be at the apex"),
    ({"name": "www", "type": "A", "values": ["192.0.2.1"], "ttl": 0}, "TTL 0 is out of range"),
    ({"name": "www", "type": "A", "values": ["192.0.2.1"], "ttl": 10**7}, "out of range"),
    ({"name": "www", "type": "ALIAS", "values": ["target.example.net."]},
     "route53 does not support ALIAS"),
    ({"name": "www", "type": "BOGUS", "values": ["x"]}, "unknown record type"),
    ({"name": "www", "type": "A", "values": ["not-an-ip"]}, "invalid IPv4 address"),
    ({"name": "www", "type": "CNAME", "values": ["no-final-dot.example.net"]},
     "needs its final dot"),
    ({"name": "_owner.a.www", "type": "TXT", "values": ["roost"]}, "ownership records"),
])
def test_bad_records_are_refused_in_one_line_and_nothing_changes(
        dns_api: Any, dns_platform: Any, moto: Any, body: dict[str, Any], says: str) -> None:
    zone = add_zone(dns_api)
    r = dns_api.put(f"/api/v1/dns/zones/{zone}/records", json=body)
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert says in message and "\n" not in message
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/records").json() == []
    assert r53_zone_id(moto.url, zone) is None  # nothing reached the provider


def test_unmanaged_zone_and_bad_zone_names_are_refused(dns_api: Any) -> None:
    r = dns_api.put("/api/v1/dns/zones/not-managed.example.org/records",
                    json={"name": "www", "type": "A", "values": ["192.0.2.1"]})
    assert r.status_code == 404
    assert "does not manage the zone not-managed.example.org" in r.json()["error"]["message"]
    assert dns_api.get("/api/v1/dns/zones/not-managed.example.org/plan").status_code == 404
    r = dns_api.post("/api/v1/dns/zones", json={"name": "no_such..zone", "provider": "route53"})
    assert r.status_code == 422 and "invalid zone name" in r.json()["error"]["message"]
    r = dns_api.post("/api/v1/dns/zones", json={"name": "ok.example.com", "provider": "bind"})
    assert r.status_code == 422 and "unknown DNS provider 'bind'" in r.json()["error"]["message"]
    r = dns_api.post("/api/v1/dns/zones", json={"name": "ok.example.com", "provider": "route53",
                                                "options": {"colour": "blue"}})
    assert r.status_code == 422 and "unknown option 'colour'" in r.json()["error"]["message"]
    assert dns_api.get("/api/v1/dns/zones").json() == []


def test_cname_stands_alone(dns_api: Any) -> None:
    zone = add_zone(dns_api)
    dns_api.put(f"/api/v1/dns/zones/{zone}/records",
                json={"name": "www", "type": "A", "values": ["192.0.2.1"]})
    r = dns_api.put(f"/api/v1/dns/zones/{zone}/records",
                    json={"name": "www", "type": "CNAME", "values": ["x.example.net."]})
    assert r.status_code == 422 and "cannot share its name" in r.json()["error"]["message"]


def test_powerdns_takes_alias_and_secrets_are_stored_encrypted(dns_api: Any,
                                                              dns_platform: Any,
                                                              pdns: Any) -> None:
    from sqlalchemy import select

    from roost.store.models.dns import DnsZone

    zone = add_zone(dns_api, "powerdns", options={"api_key": "s3cret-key-value"})
    r = dns_api.put(f"/api/v1/dns/zones/{zone}/records",
                    json={"name": "@", "type": "ALIAS", "values": ["lb.example.net."]})
    assert r.status_code == 200, r.text
    shown = dns_api.get("/api/v1/dns/zones").json()[0]
    assert "api_key" not in shown["options"]
    with dns_platform.sessions.begin() as session:
        row = session.scalar(select(DnsZone).where(DnsZone.name == zone))
        assert row is not None and row.secrets and b"s3cret" not in row.secrets
    assert pdns_rrsets(pdns.api_url, pdns.api_key, zone) == {}


def test_import_refuses_bad_yaml_and_include_tags(dns_api: Any, tmp_path: Any) -> None:
    zone = add_zone(dns_api)
    secret = tmp_path / "secret.yaml"
    secret.write_text("www: {type: A, value: 192.0.2.9}\n")
    for text, says in ((f"www: !include {secret}\n", "cannot parse the file"),
                       ("www: {type: A, value: 192.0.2.1\n", "cannot parse the file"),
                       ("'': {type: CNAME, value: x.example.net.}\n", "CNAME"),
                       ("www: {value: 192.0.2.1}\n", "needs a type"),
                       ("- just a list\n", "not an octoDNS zone file")):
        r = dns_api.post(f"/api/v1/dns/zones/{zone}/import", json={"yaml": text})
        assert r.status_code == 422, (text, r.text)
        assert says in r.json()["error"]["message"], r.json()
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/records").json() == []

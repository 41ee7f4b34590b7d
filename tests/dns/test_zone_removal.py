"""`roost dns zones remove`: by default Roost forgets the zone and leaves the provider's
records as they are; --delete-records deletes those Roost owns (never hand-made ones); a zone
an app's custom domain or email domain uses is refused, naming them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dns.helpers import pdns_rrsets, r53_records, r53_upsert
from tests.dns.test_apply_route53 import put
from tests.dns.test_domains import app, pdns_zone
from tests.dns.test_zones import add_zone


@pytest.fixture
def dns_settings() -> dict[str, Any]:
    return {"public_host": "edge.roost.example.net", "dns_propagation_timeout_seconds": 10.0,
            "mail_hostname": "smtp.example.net"}


def applied_zone(api: Any, moto: Any) -> str:
    """A Route53 zone with two owned records applied and one made by hand."""
    zone = add_zone(api)
    put(api, zone, "@", "A", "192.0.2.1")
    put(api, zone, "www", "CNAME", f"{zone}.")
    assert api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    r53_upsert(moto.url, zone, "_acme-challenge", "TXT", ['"token-123"'])
    return zone


def listed(api: Any) -> list[str]:
    return [z["name"] for z in api.get("/api/v1/dns/zones").json()]


def test_removing_a_zone_leaves_the_providers_records_by_default(dns_api: Any,
                                                                 moto: Any) -> None:
    zone = applied_zone(dns_api, moto)
    before = r53_records(moto.url, zone)

    r = dns_api.delete(f"/api/v1/dns/zones/{zone}")
    assert r.status_code == 422 and f"--confirm {zone}" in r.json()["error"]["message"]
    r = dns_api.delete(f"/api/v1/dns/zones/{zone}", params={"confirm": "other.example.com"})
    assert r.status_code == 422 and zone in listed(dns_api)

    r = dns_api.delete(f"/api/v1/dns/zones/{zone}", params={"confirm": zone})
    assert r.status_code == 200, r.text
    assert r.json() == {"zone": zone, "forgotten": 2, "deleted": []}
    assert zone not in listed(dns_api)
    assert r53_records(moto.url, zone) == before  # nothing sent to the provider
    r = dns_api.get(f"/api/v1/dns/zones/{zone}/records")
    assert r.status_code == 404 and "does not manage" in r.json()["error"]["message"]

    # Managed again later, the same records are planned as changes to nothing new.
    assert dns_api.post("/api/v1/dns/zones", json={"name": zone,
                                                   "provider": "route53"}).status_code == 201
    put(dns_api, zone, "@", "A", "192.0.2.1")
    put(dns_api, zone, "www", "CNAME", f"{zone}.")
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["changes"] == []


def test_delete_records_removes_only_what_roost_owns(dns_api: Any, moto: Any) -> None:
    zone = applied_zone(dns_api, moto)
    r = dns_api.delete(f"/api/v1/dns/zones/{zone}",
                       params={"confirm": zone, "delete_records": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["forgotten"] == 2
    assert {line for line in r.json()["deleted"] if "_owner" not in line} == {
        f"- {zone} A 192.0.2.1", f"- www.{zone} CNAME {zone}."}
    live = r53_records(moto.url, zone)
    assert set(live) == {(zone, "NS"), (zone, "SOA"), (f"_acme-challenge.{zone}", "TXT")}
    assert zone not in listed(dns_api)


def test_a_zone_in_use_is_refused_naming_its_users(dns_api: Any, dns_platform: Any,
                                                   pdns: Any) -> None:
    zone = pdns_zone(dns_api, pdns)
    shop = app(dns_api)
    r = dns_api.post(f"/api/v1/apps/{shop}/domains", json={"hostname": f"www.{zone}"})
    assert r.status_code == 201 and r.json()["dns"] == "live", r.text
    blog = app(dns_api, "blog")
    r = dns_api.post(f"/api/v1/apps/{blog}/addons",
                     json={"kind": "email", "options": {"domain": f"mail.{zone}"}})
    assert r.status_code in (200, 201), r.text
    live = pdns_rrsets(pdns.api_url, pdns.api_key, zone)

    r = dns_api.delete(f"/api/v1/dns/zones/{zone}",
                       params={"confirm": zone, "delete_records": "true"})
    assert r.status_code == 409, r.text
    message = r.json()["error"]["message"]
    assert f"custom domain www.{zone} (app shop)" in message
    assert f"email domain mail.{zone} (app blog)" in message
    assert zone in listed(dns_api)
    assert pdns_rrsets(pdns.api_url, pdns.api_key, zone) == live  # nothing deleted

    assert dns_api.delete(f"/api/v1/apps/{shop}/domains/www.{zone}").status_code == 200
    assert dns_api.delete(f"/api/v1/apps/{blog}/addons/email",
                          params={"confirm": blog}).status_code in (200, 204)
    r = dns_api.delete(f"/api/v1/dns/zones/{zone}",
                       params={"confirm": zone, "delete_records": "true"})
    assert r.status_code == 200, r.text
    assert zone not in listed(dns_api)
    left = {kind for (_, kind) in pdns_rrsets(pdns.api_url, pdns.api_key, zone)}
    assert left <= {"SOA", "NS"}


def test_an_unmanaged_zone_is_refused(dns_api: Any) -> None:
    r = dns_api.delete("/api/v1/dns/zones/nope.example.com",
                       params={"confirm": "nope.example.com"})
    assert r.status_code == 404 and "does not manage the zone" in r.json()["error"]["message"]

"""An apply right after a plan applies that plan, without reading the zone again, at most
once; records changed in Roost since the plan mean a fresh plan."""

from __future__ import annotations

from typing import Any

from tests.dns.helpers import r53_records, r53_upsert
from tests.dns.test_apply_route53 import put
from tests.dns.test_zones import add_zone


def test_an_apply_right_after_a_plan_applies_that_plan(dns_api: Any, moto: Any) -> None:
    zone = add_zone(dns_api)
    put(dns_api, zone, "@", "A", "192.0.2.1")
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    put(dns_api, zone, "api", "A", "192.0.2.7")
    plan = dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()
    assert plan["counts"] == {"create": 1, "update": 0, "delete": 0}
    # An owned record is changed by hand between the plan and the apply: the apply is the
    # reviewed plan, as it was shown.
    r53_upsert(moto.url, zone, "", "A", ["198.51.100.9"])
    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 200, r.text
    assert [c["line"] for c in r.json()["changes"]] == [c["line"] for c in plan["changes"]]
    assert r53_records(moto.url, zone)[(f"api.{zone}", "A")] == ["192.0.2.7"]
    # A plan is applied at most once: the next apply reads the zone again and puts the
    # record back.
    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 200 and r.json()["counts"]["update"] == 1, r.text
    assert r53_records(moto.url, zone)[(zone, "A")] == ["192.0.2.1"]
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["changes"] == []


def test_records_changed_after_the_plan_are_planned_again(dns_api: Any, moto: Any) -> None:
    zone = add_zone(dns_api)
    put(dns_api, zone, "www", "A", "192.0.2.1")
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["counts"]["create"] == 1
    put(dns_api, zone, "www", "A", "192.0.2.2")
    put(dns_api, zone, "api", "A", "192.0.2.3")
    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 200 and r.json()["counts"]["create"] == 2, r.text
    live = r53_records(moto.url, zone)
    assert live[(f"www.{zone}", "A")] == ["192.0.2.2"] and live[(f"api.{zone}", "A")] == [
        "192.0.2.3"]

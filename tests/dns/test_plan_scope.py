"""A plan of names changed in Roost reads only those names at Route53 while the zone's last full
reading is recent; the rest of the zone is read in full by the drift check, by `--refresh`,
and whenever that reading is old or found drift."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from roost.dns import zones
from roost.dns.route53 import read_names
from roost.store.base import utcnow
from tests.dns.conftest import zone_name
from tests.dns.helpers import r53, r53_records, r53_upsert
from tests.dns.test_apply_route53 import put
from tests.dns.test_zones import add_zone


def _applied_zone(api: Any, count: int = 12) -> str:
    zone = add_zone(api)
    for i in range(count):
        put(api, zone, f"h{i}", "A", f"192.0.2.{i + 1}")
    r = api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 200, r.text
    return zone


def _owned(plan: dict[str, Any]) -> set[str]:
    return {c["line"] for c in plan["changes"] if not c["ownership"]}


class _Zone:
    """A hosted zone made at moto directly."""

    def __init__(self, name: str, zone_id: str) -> None:
        self.name, self.id = name, zone_id


def add_zone_at_moto(client: Any) -> _Zone:
    """A new hosted zone at moto, not managed by Roost."""
    name = zone_name()
    made = client.create_hosted_zone(Name=name + ".", CallerReference=name)
    return _Zone(name, made["HostedZone"]["Id"])


def test_read_names_returns_exactly_the_sets_at_the_names_across_pages(moto: Any) -> None:
    client = r53(moto.url)
    zone = add_zone_at_moto(client)
    sets = [("www", "A", "192.0.2.1"), ("www", "AAAA", "2001:db8::1"), ("www", "TXT", '"a"'),
            ("www", "MX", "10 mx.example.net."), ("www2", "A", "192.0.2.2"),
            ("a.www", "A", "192.0.2.3"), ("api", "A", "192.0.2.4"), ("", "TXT", '"apex"')]
    client.change_resource_record_sets(HostedZoneId=zone.id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": f"{n}.{zone.name}." if n else f"{zone.name}.", "Type": t, "TTL": 300,
            "ResourceRecords": [{"Value": v}]}} for n, t, v in sets]})
    wanted = [f"www.{zone.name}.", f"api.{zone.name}.", f"absent.{zone.name}.", f"{zone.name}."]
    for page in (1, 2, 3, 20):  # pages that cut www's four sets at every place
        found = read_names(client, zone.id, wanted, page=page)
        assert sorted((s["Name"], s["Type"]) for s in found) == sorted(
            [(f"www.{zone.name}.", t) for t in ("A", "AAAA", "TXT", "MX")]
            + [(f"api.{zone.name}.", "A"), (f"{zone.name}.", "TXT"), (f"{zone.name}.", "NS"),
               (f"{zone.name}.", "SOA")]), page


def test_a_plan_of_changed_names_reads_only_them(dns_api: Any, moto: Any) -> None:
    zone = _applied_zone(dns_api)
    # Behind Roost's back: an owned record elsewhere edited, and a hand-made TXT beside a
    # name Roost is about to change.
    r53_upsert(moto.url, zone, "h5", "A", ["203.0.113.5"])
    r53_upsert(moto.url, zone, "h1", "TXT", ['"verification=1"'])
    put(dns_api, zone, "h1", "A", "198.51.100.1")
    put(dns_api, zone, "new", "A", "198.51.100.2")
    plan = dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()
    assert plan["read"].startswith("read live: the 2 names changed since the last apply")
    assert _owned(plan) == {f"~ h1.{zone} A 192.0.2.2 -> 198.51.100.1",
                            f"+ new.{zone} A 198.51.100.2 (ttl 300)"}
    assert plan["existing"] == 24 and plan["unsafe"] == ""
    full = dns_api.get(f"/api/v1/dns/zones/{zone}/plan", params={"refresh": "true"}).json()
    assert full["read"] == ""
    assert _owned(full) == _owned(plan) | {f"~ h5.{zone} A 203.0.113.5 -> 192.0.2.6"}

    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 200 and r.json()["read"] == "", r.text  # the refreshed plan
    live = r53_records(moto.url, zone)
    assert live[(f"h1.{zone}", "A")] == ["198.51.100.1"]
    assert live[(f"h1.{zone}", "TXT")] == ['"verification=1"']  # not Roost's: left alone
    assert live[(f"h5.{zone}", "A")] == ["192.0.2.6"]
    assert live[(f"new.{zone}", "A")] == ["198.51.100.2"]


def test_drift_found_or_an_old_reading_means_the_whole_zone_is_read(
        dns_api: Any, dns_platform: Any, moto: Any) -> None:
    from roost.orchestration import dns_flow

    zone = _applied_zone(dns_api)
    r53_upsert(moto.url, zone, "h5", "A", ["203.0.113.5"])
    put(dns_api, zone, "h1", "A", "198.51.100.1")
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["read"]
    # The drift check reads the whole zone, finds h5 and says so: plans read it all again,
    # and an apply puts h5 back along with the change.
    assert [c.line(zone) for c in dns_flow.check_drift(dns_platform, zone)
            if not c.ownership] == [f"~ h5.{zone} A 203.0.113.5 -> 192.0.2.6"]
    plan = dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()
    assert plan["read"] == "" and f"~ h5.{zone} A 203.0.113.5 -> 192.0.2.6" in _owned(plan)
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    assert r53_records(moto.url, zone)[(f"h5.{zone}", "A")] == ["192.0.2.6"]

    # A full reading older than two drift intervals and a minute no longer stands in.
    put(dns_api, zone, "h2", "A", "198.51.100.3")
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["read"]
    interval = dns_platform.settings.dns_drift_interval_seconds
    with dns_platform.sessions.begin() as session:
        zones.get(session, zone).checked_at = utcnow() - timedelta(seconds=2 * interval + 61)
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["read"] == ""


def test_nothing_changed_in_roost_reads_the_whole_zone(dns_api: Any, moto: Any) -> None:
    zone = _applied_zone(dns_api)
    r53_upsert(moto.url, zone, "h3", "A", ["203.0.113.3"])
    plan = dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()
    assert plan["read"] == "" and _owned(plan) == {f"~ h3.{zone} A 203.0.113.3 -> 192.0.2.4"}

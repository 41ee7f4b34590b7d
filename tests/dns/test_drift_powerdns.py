"""Drift (an owned record changed at the provider) told to the zone's maintainers and put
back by apply; PowerDNS as the provider, answering over DNS on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import dns.message
import dns.query
import dns.rdatatype
from sqlalchemy import select

from tests.dns.helpers import pdns_replace, pdns_rrsets, r53_records, r53_upsert
from tests.dns.test_apply_route53 import put
from tests.dns.test_zones import add_zone


def ask(pdns: Any, name: str, kind: str) -> list[str]:
    """What PowerDNS answers for ``name`` ``kind``, over UDP on 127.0.0.1."""
    reply = dns.query.udp(dns.message.make_query(name, dns.rdatatype.from_text(kind)),
                          "127.0.0.1", port=pdns.dns_port, timeout=3)
    return sorted(rr.to_text() for rrset in reply.answer for rr in rrset)


def maintained_app(platform: Any) -> str:
    from roost.core import apps, maintainers

    with platform.sessions.begin() as session:
        apps.create(session, "shop", "test")
        maintainers.add(session, "shop", "Ada", "ada@example.com", None, None, "test")
    return "shop"


def outbox(platform: Any) -> list[Any]:
    from roost.store.models.notify import OutboxMessage

    with platform.sessions.begin() as session:
        return [(m.kind, m.address, m.subject, m.body) for m in
                session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_drift_of_an_owned_record_is_told_and_apply_puts_it_back(dns_api: Any,
                                                                 dns_platform: Any,
                                                                 moto: Any) -> None:
    from roost.orchestration import dns_flow

    app = maintained_app(dns_platform)
    zone = add_zone(dns_api, app=app)
    put(dns_api, zone, "www", "A", "192.0.2.10")
    put(dns_api, zone, "api", "A", "192.0.2.11")
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    assert dns_flow.drift_pass(dns_platform) == {zone: 0}

    # A record made by hand changes freely: not drift.
    r53_upsert(moto.url, zone, "_acme-challenge", "TXT", ['"t1"'])
    r53_upsert(moto.url, zone, "_acme-challenge", "TXT", ['"t2"'])
    # A set that is not applied yet is not drift either.
    put(dns_api, zone, "new", "A", "192.0.2.12")
    assert dns_flow.drift_pass(dns_platform) == {zone: 0}
    assert outbox(dns_platform) == []

    # Someone edits an owned record in the console.
    r53_upsert(moto.url, zone, "www", "A", ["203.0.113.66"], ttl=60)
    assert dns_flow.drift_pass(dns_platform) == {zone: 1}
    messages = outbox(dns_platform)
    assert messages and {m[1] for m in messages} == {"ada@example.com"}
    kind, _, subject, body = messages[0]
    assert kind == "dns" and zone in subject
    assert f"~ www.{zone} A 203.0.113.66 -> 192.0.2.10 (ttl 60 -> 300)" in body
    zones = dns_api.get("/api/v1/dns/zones").json()
    assert "203.0.113.66" in zones[0]["drift"]
    dns_flow.drift_pass(dns_platform)  # the same drift again: told once
    assert len(outbox(dns_platform)) == len(messages)

    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    live = r53_records(moto.url, zone)
    assert live[(f"www.{zone}", "A")] == ["192.0.2.10"]
    assert live[(f"_acme-challenge.{zone}", "TXT")] == ['"t2"']
    assert dns_flow.drift_pass(dns_platform) == {zone: 0}
    assert dns_api.get("/api/v1/dns/zones").json()[0]["drift"] == ""


def test_powerdns_zone_is_created_served_and_drift_is_found(dns_api: Any, dns_platform: Any,
                                                            pdns: Any) -> None:
    from roost.orchestration import dns_flow

    zone = add_zone(dns_api, "powerdns")
    put(dns_api, zone, "@", "ALIAS", "lb.example.net.")
    put(dns_api, zone, "www", "A", "192.0.2.20", "192.0.2.21")
    put(dns_api, zone, "@", "MX", f"10 mail.{zone}.")
    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 200, r.text
    assert ask(pdns, f"www.{zone}", "A") == ["192.0.2.20", "192.0.2.21"]
    assert ask(pdns, f"{zone}", "MX") == [f"10 mail.{zone}."]
    assert ask(pdns, f"_owner.a.www.{zone}", "TXT") == ['"roost"']
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["changes"] == []

    pdns_replace(pdns.api_url, pdns.api_key, zone, "www", "A", ["198.51.100.1"])
    pdns_replace(pdns.api_url, pdns.api_key, zone, "verify", "TXT", ['"hand-made"'])
    changes = dns_flow.check_drift(dns_platform, zone)
    assert [c.line(zone) for c in changes] == [
        f"~ www.{zone} A 198.51.100.1 -> 192.0.2.20 192.0.2.21"]
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    assert ask(pdns, f"www.{zone}", "A") == ["192.0.2.20", "192.0.2.21"]
    assert pdns_rrsets(pdns.api_url, pdns.api_key, zone)[(f"verify.{zone}", "TXT")] == [
        '"hand-made"']


def test_a_powerdns_refusal_is_reported_with_nothing_applied(dns_api: Any, pdns: Any) -> None:
    """A CNAME where a record made by hand already stands: PowerDNS refuses the whole PATCH."""
    zone = add_zone(dns_api, "powerdns")
    put(dns_api, zone, "www", "A", "192.0.2.30")
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    pdns_replace(pdns.api_url, pdns.api_key, zone, "shop", "TXT", ['"hand-made"'])
    put(dns_api, zone, "shop", "CNAME", f"www.{zone}.")
    put(dns_api, zone, "blog", "A", "192.0.2.31")
    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert "the provider failed during apply" in error["message"]
    assert error["applied"] == [] and len(error["not_applied"]) == 4
    assert any(f"shop.{zone} CNAME" in line for line in error["not_applied"])
    assert (f"blog.{zone}", "A") not in pdns_rrsets(pdns.api_url, pdns.api_key, zone)

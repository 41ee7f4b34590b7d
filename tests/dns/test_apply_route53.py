"""Plan and apply against moto's Route53: ownership, thresholds, batches, provider errors."""

from __future__ import annotations

from typing import Any

from tests.dns.helpers import r53_records, r53_upsert
from tests.dns.test_zones import add_zone


def put(api: Any, zone: str, name: str, kind: str, *values: str, ttl: int = 300) -> None:
    r = api.put(f"/api/v1/dns/zones/{zone}/records",
                json={"name": name, "type": kind, "values": list(values), "ttl": ttl})
    assert r.status_code == 200, r.text


def test_apply_creates_owned_records_and_leaves_hand_made_ones_alone(dns_api: Any,
                                                                     moto: Any) -> None:
    zone = add_zone(dns_api)
    put(dns_api, zone, "@", "A", "192.0.2.1")
    put(dns_api, zone, "www", "CNAME", f"{zone}.")
    plan = dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()
    assert plan["counts"] == {"create": 2, "update": 0, "delete": 0}
    assert {c["line"] for c in plan["changes"] if not c["ownership"]} == {
        f"+ {zone} A 192.0.2.1 (ttl 300)", f"+ www.{zone} CNAME {zone}. (ttl 300)"}
    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 200, r.text
    assert r.json()["applied"] == 4 and r.json()["batches"] == [4]
    live = r53_records(moto.url, zone)
    assert live[(zone, "A")] == ["192.0.2.1"]
    assert live[(f"www.{zone}", "CNAME")] == [f"{zone}."]
    assert live[(f"_owner.a.{zone}", "TXT")] == ['"roost"']
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["changes"] == []

    # Records made by hand: an ACME challenge and a verification TXT.
    r53_upsert(moto.url, zone, "_acme-challenge", "TXT", ['"token-123"'])
    r53_upsert(moto.url, zone, "", "TXT", ['"google-site-verification=abc"'])
    assert dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()["changes"] == []
    assert dns_api.delete(f"/api/v1/dns/zones/{zone}/records/www").status_code == 200
    put(dns_api, zone, "api", "A", "192.0.2.7")
    plan = dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()
    lines = {c["line"] for c in plan["changes"] if not c["ownership"]}
    assert lines == {f"- www.{zone} CNAME {zone}.", f"+ api.{zone} A 192.0.2.7 (ttl 300)"}
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    live = r53_records(moto.url, zone)
    assert (f"www.{zone}", "CNAME") not in live and (f"_owner.cname.www.{zone}", "TXT") not in live
    assert live[(f"api.{zone}", "A")] == ["192.0.2.7"]
    assert live[(f"_acme-challenge.{zone}", "TXT")] == ['"token-123"']
    assert live[(zone, "TXT")] == ['"google-site-verification=abc"']


def test_a_plan_over_the_threshold_is_refused_without_force(dns_api: Any, moto: Any) -> None:
    zone = add_zone(dns_api)
    for i in range(10):
        put(dns_api, zone, f"h{i}", "A", f"192.0.2.{i + 1}")
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    for i in range(8):  # 8 updates of 20+ live records (with ownership TXTs): > 30 %
        put(dns_api, zone, f"h{i}", "A", f"198.51.100.{i + 1}")
    plan = dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()
    assert plan["counts"]["update"] == 8 and "Too many updates" in plan["unsafe"]
    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={})
    assert r.status_code == 409
    message = r.json()["error"]["message"]
    assert "is over 30.00%" in message and "--force" in message and "\n" not in message
    assert r53_records(moto.url, zone)[(f"h0.{zone}", "A")] == ["192.0.2.1"]  # untouched
    r = dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={"force": True})
    assert r.status_code == 200 and r.json()["applied"] == 8
    assert r53_records(moto.url, zone)[(f"h0.{zone}", "A")] == ["198.51.100.1"]


def test_thresholds_are_per_zone(dns_api: Any) -> None:
    zone = add_zone(dns_api, update_threshold=0.9, delete_threshold=0.9)
    for i in range(10):
        put(dns_api, zone, f"h{i}", "A", f"192.0.2.{i + 1}")
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200
    for i in range(5):  # 10 deletes (with their ownership TXTs) of 20 live records: 50 %
        assert dns_api.delete(f"/api/v1/dns/zones/{zone}/records/h{i}").status_code == 200
    plan = dns_api.get(f"/api/v1/dns/zones/{zone}/plan").json()
    assert plan["counts"]["delete"] == 5 and plan["unsafe"] == ""  # under this zone's 90 %
    assert dns_api.post(f"/api/v1/dns/zones/{zone}/apply", json={}).status_code == 200


def test_batches_keep_within_route53s_limits(dns_platform: Any, moto: Any) -> None:
    """60 TXT records of 1,000 characters: 60,000 characters of values, two batches at least,
    each within 32,000 characters, as sent on the wire."""
    from roost.dns import providers, sync
    from roost.dns.records import RecordData
    from tests.dns.conftest import zone_name

    zone = zone_name()
    provider = providers.build(dns_platform.settings, "route53", {})
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["ChangeBatch"])

    event = "provide-client-params.route53.ChangeResourceRecordSets"
    provider._conn.meta.events.register(event, record)  # the client is shared: unregister
    long = ["a" * 250] * 4  # one TXT value in 255-character pieces
    wanted = [RecordData(f"t{i}", "TXT", 300, {"values": [" ".join(long)[:990] + str(i)]})
              for i in range(60)]
    try:
        found = sync.plan(provider, zone, wanted)
        assert sync.apply(provider, found) == 120
    finally:
        provider._conn.meta.events.unregister(event, record)
    assert len(sent) >= 2 and len(sent) == len(provider.sent_batches)
    for batch in sent:
        chars = sum(len(v["Value"]) for c in batch["Changes"]
                    for v in c["ResourceRecordSet"]["ResourceRecords"])
        assert chars <= 32_000 and len(batch["Changes"]) <= 1000
    assert len([k for k in r53_records(moto.url, zone) if k[0].startswith("t")]) == 60


def test_a_provider_error_mid_apply_says_what_went_through(dns_platform: Any, moto: Any) -> None:
    """Route53 fails the second change batch (an outage, at its wire format): the first
    batch's changes are reported applied, the rest not."""
    import pytest
    from botocore.awsrequest import AWSResponse

    from roost.dns import providers, sync
    from roost.dns.records import RecordData
    from tests.dns.conftest import zone_name

    zone = zone_name()
    provider = providers.build(dns_platform.settings, "route53", {})
    calls = {"n": 0}

    def outage(request: Any, **_: Any) -> AWSResponse | None:
        if "rrset" in request.url and request.method == "POST":
            calls["n"] += 1
            if calls["n"] >= 2:
                body = (b'<?xml version="1.0"?><ErrorResponse><Error><Type>Receiver</Type>'
                        b'<Code>ServiceUnavailable</Code><Message>down</Message></Error>'
                        b'</ErrorResponse>')
                raw = type("Raw", (), {"stream": lambda self, **k: iter([body])})()
                return AWSResponse(request.url, 503, {}, raw)
        return None

    provider._conn.meta.events.register("before-send.route53", outage)
    wanted = [RecordData(f"t{i}", "TXT", 300, {"values": ["x" * 990 + str(i)]})
              for i in range(60)]
    try:
        found = sync.plan(provider, zone, wanted)
        with pytest.raises(sync.ApplyError) as err:
            sync.apply(provider, found,
                       fresh=lambda: providers.build(dns_platform.settings, "route53", {}))
    finally:  # the boto3 client is shared by every provider with these credentials
        provider._conn.meta.events.unregister("before-send.route53", outage)
    exc = err.value
    assert exc.applied and exc.not_applied
    assert len(exc.applied) + len(exc.not_applied) == 120
    assert "ServiceUnavailable" in exc.message or "down" in exc.message
    live = r53_records(moto.url, zone)
    for line in exc.applied:
        if line.startswith("+ t"):
            name = line.split()[1]
            assert (name, "TXT") in live
    for line in exc.not_applied:
        assert (line.split()[1], "TXT") not in live

"""Reading and editing the providers' live zones behind Roost's back (as a person would in
the provider's console)."""

from __future__ import annotations

from typing import Any

import httpx


def r53(moto_url: str) -> Any:
    """A boto3 Route53 client on moto."""
    import boto3

    return boto3.client("route53", endpoint_url=moto_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def r53_zone_id(moto_url: str, zone: str) -> str | None:
    """The hosted zone id of ``zone`` on moto, or None."""
    for hz in r53(moto_url).list_hosted_zones()["HostedZones"]:
        if hz["Name"] == zone + ".":
            return str(hz["Id"])
    return None


def r53_records(moto_url: str, zone: str) -> dict[tuple[str, str], list[str]]:
    """Live records of ``zone``: (fqdn without the final dot, type) -> values."""
    zid = r53_zone_id(moto_url, zone)
    if zid is None:
        return {}
    client, out, start = r53(moto_url), {}, {}
    while True:
        page = client.list_resource_record_sets(HostedZoneId=zid, **start)
        for rr in page["ResourceRecordSets"]:
            out[(rr["Name"].rstrip("."), rr["Type"])] = [v["Value"] for v in
                                                         rr.get("ResourceRecords", [])]
        if not page.get("IsTruncated"):
            return out
        start = {"StartRecordName": page["NextRecordName"],
                 "StartRecordType": page["NextRecordType"]}


def r53_upsert(moto_url: str, zone: str, name: str, kind: str, values: list[str],
               ttl: int = 300) -> None:
    """Create or replace a record by hand."""
    zid = r53_zone_id(moto_url, zone)
    assert zid is not None
    r53(moto_url).change_resource_record_sets(HostedZoneId=zid, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"{name}.{zone}." if name else f"{zone}.", "Type": kind, "TTL": ttl,
            "ResourceRecords": [{"Value": v} for v in values]}}]})


def pdns_rrsets(api_url: str, key: str, zone: str) -> dict[tuple[str, str], list[str]]:
    """Live records of a PowerDNS zone: (fqdn without the dot, type) -> contents."""
    r = httpx.get(f"{api_url}/api/v1/servers/localhost/zones/{zone}.",
                  headers={"X-API-Key": key})
    if r.status_code in (404, 422):
        return {}
    r.raise_for_status()
    return {(s["name"].rstrip("."), s["type"]): [x["content"] for x in s["records"]]
            for s in r.json()["rrsets"]}


def pdns_replace(api_url: str, key: str, zone: str, name: str, kind: str,
                 contents: list[str], ttl: int = 300) -> None:
    """Replace a record by hand through PowerDNS's API."""
    fqdn = f"{name}.{zone}." if name else f"{zone}."
    r = httpx.patch(f"{api_url}/api/v1/servers/localhost/zones/{zone}.",
                    headers={"X-API-Key": key},
                    json={"rrsets": [{"name": fqdn, "type": kind, "ttl": ttl,
                                      "changetype": "REPLACE",
                                      "records": [{"content": c, "disabled": False}
                                                  for c in contents]}]})
    r.raise_for_status()

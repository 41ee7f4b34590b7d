# ruff: noqa: E402  (sys.path is set right before the imports: see below)
"""DNS benchmark against moto's Route53 (server mode, its own process), in one run:

- first import and apply of a zone of 5,000 records (Roost: `dns import` + `dns apply`,
  ownership TXT records included) vs ``octodns-sync --doit`` on the same YAML with the same
  ownership processor, each into a fresh moto of its own, the two taking turns (median of
  3 each); target <= 1.2x;
- plan and apply of a 10-record change in that zone (the plan reads the 10 changed names; the
  same plan with --refresh, the whole zone, beside it): target plan < 2 s, and only the 10
  changes sent, in one batch;
- a drift check over 100 applied zones (5 of them edited behind Roost's back): target < 30 s,
  the 5 found.

    PYTHONPATH=. .venv/bin/python -m bench.dns_zones [--records 5000] [--zones 100] [--rounds 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/dns_zones.py`, this file's directory comes first on sys.path and its name
# (and bench/'s other modules) could hide packages of the same name: take the directory off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import logging
import os
import statistics
import subprocess
import tempfile
import time

import boto3

from bench.assets import start_moto
from roost.dns import service, yamlio, zones
from roost.dns.records import RecordData
from roost.orchestration import dns_flow
from roost.orchestration.platform import Platform, open_platform
from roost.settings import Settings

CREDS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
         "AWS_DEFAULT_REGION": "us-east-1"}


def zone_yaml(count: int) -> str:
    """A zone of ``count`` records: A, AAAA, CNAME, TXT and MX in turn."""
    records = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            address = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
            records.append(RecordData(f"h{i}", "A", 300, {"values": [address]}))
        elif kind == 1:
            records.append(RecordData(f"h{i}", "AAAA", 300, {"values": [f"2001:db8::{i:x}"]}))
        elif kind == 2:
            records.append(RecordData(f"h{i}", "CNAME", 300, {"value": f"h{i - 2}.bench.test."}))
        elif kind == 3:
            records.append(RecordData(f"h{i}", "TXT", 300, {"values": [f"bench record {i}"]}))
        else:
            records.append(RecordData(f"h{i}", "MX", 300, {"values": [
                {"preference": 10, "exchange": f"mx{i}.bench.test."}]}))
    return yamlio.dump(records)


def route53_count(endpoint: str, zone: str) -> int:
    """Record sets in ``zone`` on moto."""
    client = boto3.client("route53", endpoint_url=endpoint, **{
        "aws_access_key_id": "bench", "aws_secret_access_key": "bench",
        "region_name": "us-east-1"})
    zid = next(z["Id"] for z in client.list_hosted_zones()["HostedZones"]
               if z["Name"] == zone + ".")
    total, start = 0, {}
    while True:
        page = client.list_resource_record_sets(HostedZoneId=zid, **start)
        total += len(page["ResourceRecordSets"])
        if not page.get("IsTruncated"):
            return total
        start = {"StartRecordName": page["NextRecordName"],
                 "StartRecordType": page["NextRecordType"]}


def octodns_sync(tmp: Path, endpoint: str, zone: str, text: str) -> float:
    """Time ``octodns-sync --doit`` of ``text`` into ``zone`` (with ownership records)."""
    config = tmp / "octodns"
    config.mkdir(parents=True)
    (config / f"{zone}.yaml").write_text(text)
    (tmp / "octodns.yaml").write_text(f"""
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: {config}
    enforce_order: false
  route53:
    class: bench.octodns_moto.MotoRoute53Provider
    access_key_id: bench
    secret_access_key: bench
processors:
  ownership:
    class: octodns.processor.ownership.OwnershipProcessor
    txt_name: _owner
    txt_value: roost
zones:
  {zone}.:
    sources: [config]
    processors: [ownership]
    targets: [route53]
""")
    env = {**os.environ, **CREDS, "AWS_ENDPOINT_URL": endpoint,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("octodns-sync")), "--config-file",
                    str(tmp / "octodns.yaml"), "--doit", "--quiet"], env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def roost_import_apply(platform: Platform, zone: str, text: str) -> float:
    """Time Roost's import of ``text`` into ``zone`` and its first apply."""
    start = time.perf_counter()
    with platform.sessions.begin() as session:
        row = zones.create(session, platform.cipher, zone, "route53")
        zones.replace_all(session, row, yamlio.load(zone, text))
    dns_flow.apply(platform, zone)
    return time.perf_counter() - start


def ten_changes(platform: Platform, endpoint: str, zone: str
                ) -> tuple[float, float, float, float, int, list[int]]:
    """Update 10 records; time the plan (as it reads only the changed names, and with
    ``--refresh``, the whole zone) and the apply; return the changes and batches."""
    with platform.sessions.begin() as session:
        row = zones.get(session, zone)
        for i in range(0, 50, 5):
            zones.put(session, row, zones.prepare(row, f"h{i}", "A", [f"192.0.2.{i + 1}"],
                                                  ttl=300))
    start = time.perf_counter()
    route53_count(endpoint, zone)  # what listing the zone alone costs: the floor of a plan
    floor = time.perf_counter() - start
    start = time.perf_counter()
    whole = dns_flow.plan(platform, zone, refresh=True)
    refreshed = time.perf_counter() - start
    start = time.perf_counter()
    found = dns_flow.plan(platform, zone)
    planned = time.perf_counter() - start
    assert found.read and not whole.read, (found.read, whole.read)
    assert len(found.changes) == 10, [c.line(zone) for c in found.changes]
    assert [c.line(zone) for c in found.changes] == [c.line(zone) for c in whole.changes]
    start = time.perf_counter()
    _, applied, batches = dns_flow.apply(platform, zone)
    return floor, refreshed, planned, time.perf_counter() - start, applied, batches


def drift_over(platform: Platform, endpoint: str, count: int) -> tuple[float, int]:
    """Apply ``count`` small zones, edit 5 behind Roost's back, time one drift pass."""
    names = [f"drift{i}.bench.test" for i in range(count)]
    for name in names:
        records = [{"name": f"r{j}", "type": "A", "values": [f"192.0.2.{j + 1}"]}
                   for j in range(10)]
        with platform.sessions.begin() as session:
            zones.create(session, platform.cipher, name, "route53")
        service.ensure_records(platform, name, records, owner="bench")
    client = boto3.client("route53", endpoint_url=endpoint, aws_access_key_id="bench",
                          aws_secret_access_key="bench", region_name="us-east-1")
    ids = {z["Name"].rstrip("."): z["Id"] for z in client.list_hosted_zones()["HostedZones"]}
    for name in names[:5]:
        client.change_resource_record_sets(HostedZoneId=ids[name], ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {
                "Name": f"r0.{name}.", "Type": "A", "TTL": 300,
                "ResourceRecords": [{"Value": "203.0.113.9"}]}}]})
    start = time.perf_counter()
    found = dns_flow.drift_pass(platform)
    took = time.perf_counter() - start
    return took, sum(1 for n in names if found.get(n))


def _platform(home: Path, endpoint: str) -> Platform:
    """A fresh Roost home whose Route53 is the moto at ``endpoint``."""
    return open_platform(Settings(
        home=home, dns_route53_access_key_id="bench", dns_route53_secret_access_key="bench",
        dns_route53_endpoint_url=endpoint))


def _runs(times: list[float]) -> str:
    return ", ".join(f"{t:.1f}" for t in times)


def main() -> None:
    """Run every part and print Roost's figures beside the peer's and the targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--zones", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3,
                        help="turns of each tool's import (the median is compared)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ.update(CREDS)
    tmp = Path(tempfile.mkdtemp(prefix="roost-bench-dns-"))
    text = zone_yaml(args.records)
    # Each import gets a moto of its own (moto's answers slow down as it holds more records, so
    # whichever went second into a shared one would pay for the other's zone), and the two
    # tools take turns, --rounds times, since this machine's speed drifts from run to run.
    peers: list[float] = []
    mine: list[float] = []
    for turn in range(args.rounds):
        proc, endpoint = start_moto()
        try:
            peers.append(octodns_sync(tmp / f"peer{turn}", endpoint, "peer.bench.test", text))
            theirs = route53_count(endpoint, "peer.bench.test")
        finally:
            proc.terminate()
            proc.wait()
        if turn < args.rounds - 1:
            proc, endpoint = start_moto()
            try:
                mine.append(roost_import_apply(_platform(tmp / f"roost{turn}", endpoint),
                                               "roost.bench.test", text))
            finally:
                proc.terminate()
                proc.wait()
    proc, endpoint = start_moto()  # the last round's Roost zone stays for the other parts
    try:
        platform = _platform(tmp / "roost", endpoint)
        mine.append(roost_import_apply(platform, "roost.bench.test", text))
        ours = route53_count(endpoint, "roost.bench.test")
        ratio = statistics.median(mine) / statistics.median(peers)
        print(f"import+apply of {args.records} records, median of {args.rounds} turns each: "
              f"roost {statistics.median(mine):.2f} s ({_runs(mine)}), octodns-sync --doit "
              f"{statistics.median(peers):.2f} s ({_runs(peers)}), ratio {ratio:.2f}x "
              f"(target <= 1.2x); record sets at Route53: roost {ours}, octodns {theirs}")
        floor, refreshed, planned, applied_s, applied, batches = ten_changes(
            platform, endpoint, "roost.bench.test")
        print(f"10-record change in the {args.records}-record zone: plan {planned:.2f} s "
              f"reading the changed names (target < 2 s; the same plan reading the whole zone,"
              f" --refresh: {refreshed:.2f} s; listing the zone's record sets alone with "
              f"boto3: {floor:.2f} s), apply {applied_s:.2f} s, {applied} changes in "
              f"{len(batches)} batch(es) of {batches} (target: 10 in 1)")
        took, found = drift_over(platform, endpoint, args.zones)
        print(f"drift check over {args.zones} zones: {took:.2f} s (target < 30 s), "
              f"{found} of 5 edited zones found")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

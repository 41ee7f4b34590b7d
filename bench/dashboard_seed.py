"""Seeding for bench/dashboard.py: 200 apps, 10,000 monitors and a week of perf data, written
straight into a fresh store (Roost's own functions for apps and releases, bulk inserts for
the rest)."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from roost.core import apps, config, maintainers, releases, telemetry
from roost.monitor.perf import sketch as sk
from roost.monitor.perf.regress import record_deploy
from roost.monitor.perf.rollup import rollup
from roost.orchestration.platform import Platform
from roost.store.base import utcnow
from roost.store.models.perf import HOUR, MINUTE, PerfBucket, PerfSample
from roost.store.models.uptime import Incident, Monitor, UptimeHourly
from roost.store.models.vulns import VulnFinding

APPS, MONITORS, DAYS, ENDPOINTS, RELEASES = 200, 10_000, 7, 8, 5


def _sketch(rng: random.Random, base_ms: float, samples: int) -> bytes:
    s = sk.new_sketch()
    for _ in range(samples):
        s.add(rng.lognormvariate(0, 0.5) * base_ms)
    return sk.encode(s)


def seed(ctx: Platform, seed: int = 7) -> dict[str, Any]:
    """Fill the store; return what was made (app names, one trace id)."""
    rng = random.Random(seed)
    now = utcnow().replace(second=0, microsecond=0)
    names = [f"app{i:03d}" for i in range(APPS)]
    with ctx.sessions.begin() as session:
        for name in names:
            app = apps.create(session, name, "bench")
            telemetry.provision(session, ctx.cipher, app, ctx.settings.api_url)
            maintainers.add(session, name, "Ada", f"ada+{name}@example.com", None, [], "bench")
            config.set_many(session, ctx.cipher, name, {f"VAR_{k}": "x" * 20 for k in range(10)},
                            "bench")
            for v in range(RELEASES):
                made = releases.create(session, ctx.cipher, app, slug_key=f"slugs/{name}/{v}",
                                       slug_size=5_000_000, process_types={"web": "gunicorn app"},
                                       config={}, description=f"deploy of build #{v}",
                                       actor="bench", meta={"source_version": f"{v:040x}"})
                releases.mark(session, made, "succeeded")
                record_deploy(session, name, f"v{v + 1}", now - timedelta(days=DAYS - v - 1))
    bases = (0.6, 3, 12, 45, 120)
    hourly = [_sketch(rng, base, 600) for base in bases]  # an endpoint-hour: ~100 bins
    minutely = [_sketch(rng, base, 10) for base in bases]  # an endpoint-minute: ≤ 10 bins
    monitor_rows = [{"app_name": names[i % APPS], "kind": "http", "target":
                     f"https://{names[i % APPS]}.example.com/check/{i}", "headers": {},
                     "expected_status": [], "state": "up", "created_at": now,
                     "last_check_at": now} for i in range(MONITORS)]
    with ctx.sessions.begin() as session:
        session.execute(insert(Monitor), monitor_rows)
        hours = [now.replace(minute=0) - timedelta(hours=h) for h in range(DAYS * 24)]
        ids = list(range(1, MONITORS + 1))
        for start in range(0, len(ids), 500):
            session.execute(insert(UptimeHourly), [
                {"monitor_id": m, "hour": h, "checks": 60, "failures": int(rng.random() < 0.01),
                 "latency_ms_sum": 60 * 40.0} for m in ids[start:start + 500] for h in hours])
        session.execute(insert(Incident), [
            {"monitor_id": i * (MONITORS // 20) + 1, "app_name": names[i * (MONITORS // 20) % APPS],
             "started_at": now - timedelta(minutes=5), "confirmed_at": now, "cause": "timeout",
             "evidence": {}, "probes": []} for i in range(20)])
        session.execute(insert(VulnFinding), [
            {"app_name": names[i % APPS], "ecosystem": "PyPI", "package": f"pkg{i}",
             "ids": [f"GHSA-{i:04d}"], "version": "1.0", "lockfile": "requirements.txt",
             "summary": "a flaw", "severity": "HIGH", "fixed": "1.1", "first_seen": now,
             "last_seen": now} for i in range(APPS * 3)])
    trace_id = ""
    for name in names:
        buckets: list[dict[str, Any]] = []
        for e in range(ENDPOINTS):
            endpoint = f"GET /things/{e}/{{id}}"
            for h in range(DAYS * 24):
                buckets.append({"app": name, "endpoint": endpoint, "period": HOUR,
                                "start": now.replace(minute=0) - timedelta(hours=h + 1),
                                "count": 600, "errors": 1, "total_ms": 600 * 10.0,
                                "sketch": hourly[e % len(bases)], "rolled": False})
            for m in range(60):
                buckets.append({"app": name, "endpoint": endpoint, "period": MINUTE,
                                "start": now - timedelta(minutes=m), "count": 10, "errors": 0,
                                "total_ms": 100.0, "sketch": minutely[e % len(bases)],
                                "rolled": False})
        with ctx.sessions.begin() as session:
            session.execute(insert(PerfBucket), buckets)
            trace_id = f"{rng.getrandbits(128):032x}"
            session.execute(insert(PerfSample), [{
                "app": name, "endpoint": "GET /things/0/{id}", "hour": now.replace(minute=0),
                "trace_id": trace_id, "started_at": now, "duration_ms": 0.85, "reason": "random",
                "spans": [{"name": "GET", "start_ns": 0, "end_ns": 850_000, "kind": 2,
                           "attrs": {}}]}])
    with ctx.sessions.begin() as session:  # as the perf service's roll-up job keeps them
        rollup(session, utcnow())
    return {"apps": names, "trace": trace_id, "trace_app": names[-1],
            "rows": json.dumps({"monitors": MONITORS, "hourly": MONITORS * DAYS * 24})}

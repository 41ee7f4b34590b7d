"""Hour and day roll-ups: long ranges read a handful of rows and give the minutes' answer."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, func, select

from roost.monitor.perf.aggregator import Bucket, Snapshot
from roost.monitor.perf.cover import covering
from roost.monitor.perf.flush import write_snapshot
from roost.monitor.perf.query import endpoint_detail, endpoint_table
from roost.monitor.perf.rollup import floor, rollup
from roost.store.models.perf import DAY, HOUR, PerfBucket
from roost.store.session import make_sessionmaker, transaction
from tests.monitor.perf.helpers import APP

NOW = datetime(2030, 3, 14, 15, 37, tzinfo=UTC)
ENDPOINTS = {"GET /a": 3.0, "GET /b": 40.0, "POST /c": 0.4}
# (name, since): short ranges start anywhere (minutes answer their edge); ranges older than
# the minutes kept start on an hour, where the hour rows answer exactly.
RANGES = [("1h", NOW - timedelta(hours=1)), ("6h", NOW - timedelta(hours=6)),
          ("24h", NOW - timedelta(hours=24)), ("7d", floor(NOW - timedelta(days=7), HOUR)),
          ("8d", floor(NOW - timedelta(days=8), HOUR))]


def _snapshot(rng: random.Random, minutes: list[datetime],
              truth: dict[str, list[tuple[datetime, float]]]) -> Snapshot:
    """Traffic in the given minutes, recorded in ``truth`` as (minute, ms) per endpoint."""
    snap = Snapshot()
    for minute in minutes:
        for endpoint, base in ENDPOINTS.items():
            if rng.random() > 0.3:
                continue
            bucket = snap.buckets[(APP, endpoint, int(minute.timestamp()))] = Bucket()
            for _ in range(rng.randint(1, 4)):
                ms = rng.lognormvariate(0, 0.6) * base
                bucket.count += 1
                bucket.errors += rng.random() < 0.05
                bucket.total_ms += ms
                bucket.sketch.add(ms)
                truth[endpoint].append((minute, ms))
            snap.pieces[(APP, endpoint, int(minute.timestamp()), "q1")] = [
                "db", "SELECT 1", bucket.count, bucket.total_ms / 2, bucket.total_ms / 2]
    return snap


def _seed(engine: Engine) -> dict[str, list[tuple[datetime, float]]]:
    """Eight and a half days of minutes, flushed as the aggregator would (in 4 flushes)."""
    rng = random.Random(17)
    truth: dict[str, list[tuple[datetime, float]]] = {e: [] for e in ENDPOINTS}
    first = floor(NOW - timedelta(days=8, hours=12), HOUR)
    # every 7th minute keeps the store small; 0.3 of those have traffic per endpoint
    minutes = [first + timedelta(minutes=m)
               for m in range(0, int((NOW - first).total_seconds()) // 60 + 1, 7)]
    factory = make_sessionmaker(engine)
    for i in range(4):
        with transaction(factory) as s:
            write_snapshot(s, _snapshot(rng, minutes[i::4], truth))
    return truth


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def _same(got: BaseModel, want: BaseModel) -> None:
    """Equal fields; sums of floats added in another order may differ in the last digit."""
    a, b = got.model_dump(), want.model_dump()
    assert a.keys() == b.keys()
    for key, value in b.items():
        if isinstance(value, float):
            assert a[key] == pytest.approx(value, rel=1e-9, abs=2e-3), key
        else:
            assert a[key] == value, key


def _tables(engine: Engine) -> dict[str, dict[str, object]]:
    with transaction(make_sessionmaker(engine)) as s:
        return {name: {line.endpoint: line for line in endpoint_table(s, APP, since, NOW)}
                for name, since in RANGES}


def test_rollups_answer_like_the_minutes_with_a_few_rows(engine: Engine) -> None:
    truth = _seed(engine)
    fine = _tables(engine)  # nothing rolled yet: every range is read from minutes
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        fine_detail = endpoint_detail(s, APP, "GET /b", RANGES[3][1], NOW)
        assert rollup(s, NOW) > 0
    with transaction(factory) as s:
        assert rollup(s, NOW) == 0  # nothing left to roll: a second run changes nothing
        days = s.scalar(select(func.count()).select_from(PerfBucket)
                        .where(PerfBucket.period == DAY))
        assert days == 8 * len(ENDPOINTS)  # March 6 to 13; the 14th is not over
        for endpoint in ENDPOINTS:
            read = s.scalar(select(func.count()).select_from(PerfBucket).where(
                PerfBucket.app == APP, PerfBucket.endpoint == endpoint,
                covering(PerfBucket, RANGES[3][1], NOW)))
            assert read is not None and read <= 7 * 24 // 2, (endpoint, read)
    coarse = _tables(engine)

    for name, since in RANGES:
        seen = {e for e in ENDPOINTS if any(m >= floor(since, 60) for m, _ in truth[e])}
        assert set(coarse[name]) == set(fine[name]) == seen, name
        for endpoint in seen:
            a, b = fine[name][endpoint], coarse[name][endpoint]
            _same(b, a)  # the same counts and the same merged sketch
            values = [ms for minute, ms in truth[endpoint] if minute >= floor(since, 60)]
            assert a.requests == len(values)  # type: ignore[attr-defined]
            for q, got in ((0.5, a.p50_ms), (0.95, a.p95_ms)):  # type: ignore[attr-defined]
                assert got == pytest.approx(_exact(values, q), rel=0.025), (name, q)

    with transaction(factory) as s:
        detail = endpoint_detail(s, APP, "GET /b", RANGES[3][1], NOW)
    _same(detail.stats, fine_detail.stats)
    assert len(detail.breakdown) == len(fine_detail.breakdown) == 1
    _same(detail.breakdown[0], fine_detail.breakdown[0])
    # a week is charted by the hour: one point per hour with traffic, the same totals
    assert len(detail.series) <= 7 * 24 + 1
    assert sum(p.requests for p in detail.series) == detail.stats.requests
    by_hour: dict[datetime, int] = {}
    for minute, _ in truth["GET /b"]:
        if minute >= RANGES[3][1]:
            by_hour[floor(minute, HOUR)] = by_hour.get(floor(minute, HOUR), 0) + 1
    assert {p.start: p.requests for p in detail.series} == by_hour


def test_late_data_for_rolled_minutes_reaches_hours_and_days(engine: Engine) -> None:
    truth = _seed(engine)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        rollup(s, NOW)
    late_minutes = [floor(NOW - timedelta(hours=30), 60) + timedelta(minutes=m)
                    for m in range(0, 120, 3)]
    with transaction(factory) as s:
        write_snapshot(s, _snapshot(random.Random(3), late_minutes, truth))
    _check(engine, truth)
    with transaction(factory) as s:  # the late minutes' own roll-up climbs into their day
        assert rollup(s, NOW) > 0
        late = s.scalars(select(PerfBucket).where(
            PerfBucket.period == HOUR, PerfBucket.start == floor(late_minutes[0], HOUR))).all()
        assert late and all(row.rolled for row in late)
    _check(engine, truth)


def _check(engine: Engine, truth: dict[str, list[tuple[datetime, float]]]) -> None:
    """Every range from a day up agrees with every request written, late ones included."""
    coarse = _tables(engine)
    for name, since in RANGES[2:]:
        for endpoint in ENDPOINTS:
            values = [ms for minute, ms in truth[endpoint] if minute >= since]
            line = coarse[name][endpoint]
            assert line.requests == len(values), (name, endpoint)  # type: ignore[attr-defined]
            assert line.p95_ms == pytest.approx(  # type: ignore[attr-defined]
                _exact(values, 0.95), rel=0.025)

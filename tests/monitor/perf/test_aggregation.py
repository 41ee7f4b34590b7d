"""Aggregation into the store: exact-enough percentiles, endpoint cap, breakdown, rollup."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from roost.errors import InvalidInput
from roost.monitor.perf import sketch as sk
from roost.monitor.perf.aggregator import Aggregator, Settings
from roost.monitor.perf.flush import write_snapshot
from roost.monitor.perf.names import OVERFLOW_ENDPOINT, normalise_path
from roost.monitor.perf.otlp import decode_protobuf
from roost.monitor.perf.query import endpoint_detail, endpoint_table
from roost.monitor.perf.retention import prune, rollup
from roost.monitor.perf.sqlnorm import normalise_sql
from roost.store.models.perf import HOUR, MINUTE, PerfBucket
from roost.store.session import make_sessionmaker, transaction
from tests.monitor.perf.helpers import (
    APP,
    db_span,
    ids,
    request_body,
    requests_at,
    server_span,
)


def _aggregate(engine: Engine, spans: list, agg: Aggregator | None = None,
               now: float | None = None) -> Aggregator:
    agg = agg or Aggregator()
    decoded = decode_protobuf(request_body(spans))
    assert agg.submit(APP, decoded.spans) is None
    agg.process(now)
    with transaction(make_sessionmaker(engine)) as s:
        write_snapshot(s, agg.take())
    return agg


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def test_percentiles_match_exact_within_one_percent(engine: Engine) -> None:
    rng = random.Random(7)
    durations = [rng.lognormvariate(3.5, 0.9) for _ in range(3000)]
    start = datetime.now(UTC).timestamp() - 3000
    agg = Aggregator()
    # two flushes, so the stored sketches are merged as well
    _aggregate(engine, requests_at("/p", start, durations[:1500]), agg)
    _aggregate(engine, requests_at("/p", start + 1500, durations[1500:]), agg)
    with transaction(make_sessionmaker(engine)) as s:
        line = endpoint_table(s, APP, datetime.now(UTC) - timedelta(hours=2))[0]
    assert line.requests == 3000
    for q, got in ((0.5, line.p50_ms), (0.95, line.p95_ms), (0.99, line.p99_ms)):
        exact = _exact(durations, q)
        assert abs(got - exact) / exact <= 0.01, (q, got, exact)
    assert line.mean_ms == pytest.approx(sum(durations) / 3000, rel=1e-3)


def test_sketch_encoding_round_trip() -> None:
    sketch = sk.new_sketch()
    for v in (0.0, 0.001, 1.5, 20.0, 20.0, 9000.0):
        sketch.add(v)
    back = sk.decode(sk.encode(sketch))
    assert back.count == 6 and back.sum == pytest.approx(sketch.sum)
    for q in (0.0, 0.3, 0.5, 0.9, 1.0):
        assert sk.quantile(back, q) == pytest.approx(sk.quantile(sketch, q))


def test_merging_encoded_sketches_equals_decoding_and_merging_them() -> None:
    import random

    rng = random.Random(3)
    blobs = []
    for n in (0, 1, 50, 600):
        one = sk.new_sketch()
        for _ in range(n):
            one.add(rng.lognormvariate(0, 1.2) * 20)
        one.add(0.0)
        blobs.append(sk.encode(one))
    slow = sk.new_sketch()
    for blob in blobs:
        slow.merge(sk.decode(blob))
    fast = sk.merge_encoded(blobs)
    assert fast.count == slow.count and fast.sum == pytest.approx(slow.sum)
    for q in (0.0, 0.01, 0.5, 0.95, 0.99, 1.0):
        assert sk.quantile(fast, q) == pytest.approx(sk.quantile(slow, q))
    assert sk.merge_encoded([]).count == 0
    with pytest.raises(InvalidInput):
        sk.merge_encoded([blobs[2][:-1] + bytes([0x80])])


def test_endpoint_cap_sends_the_rest_to_an_overflow_bucket(engine: Engine) -> None:
    start = datetime.now(UTC).timestamp() - 60
    spans = []
    for i in range(6):
        spans += requests_at(f"/r{i}", start, [5.0])
    agg = Aggregator(Settings(max_endpoints=3))
    _aggregate(engine, spans, agg)
    with transaction(make_sessionmaker(engine)) as s:
        names = {e.endpoint for e in endpoint_table(s, APP, datetime.now(UTC) - timedelta(hours=1))}
    assert len(names) == 4 and OVERFLOW_ENDPOINT in names


def test_breakdown_by_category_with_self_time(engine: Engine) -> None:
    trace_id, root = ids()
    start = int((datetime.now(UTC).timestamp() - 30) * 1e9)
    spans = [server_span(trace_id, root, start, 100, "/orders/{id}"),
             db_span(trace_id, root, start + 1_000_000, 30, "SELECT * FROM o WHERE id = 1"),
             db_span(trace_id, root, start + 40_000_000, 20, "SELECT * FROM o WHERE id = 2")]
    _aggregate(engine, spans)
    with transaction(make_sessionmaker(engine)) as s:
        detail = endpoint_detail(s, APP, "GET /orders/{id}", datetime.now(UTC) - timedelta(hours=1))
    assert detail.categories["db"] == pytest.approx(50, rel=1e-3)
    assert detail.categories["app"] == pytest.approx(50, rel=1e-3)
    db = [b for b in detail.breakdown if b.category == "db"]
    assert len(db) == 1 and db[0].calls_per_request == 2
    assert len(detail.series) == 1 and detail.series[0].requests == 1


def test_rollup_to_hours_then_prune(engine: Engine) -> None:
    now = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
    old = now - timedelta(hours=30)
    agg = Aggregator(Settings(max_age_s=7 * 86400))
    durations = [float(i % 50 + 1) for i in range(120)]
    _aggregate(engine, requests_at("/old", old.timestamp(), durations), agg,
               now=now.timestamp())
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        before = endpoint_table(s, APP, now - timedelta(days=3), now)[0]
        assert rollup(s, now) > 0
    with transaction(factory) as s:
        hours = s.scalars(select(PerfBucket).where(PerfBucket.period == HOUR)).all()
        assert sum(h.count for h in hours) == 120
        after = endpoint_table(s, APP, now - timedelta(days=3), now)[0]
    assert after.requests == before.requests == 120
    assert after.p95_ms == pytest.approx(before.p95_ms)
    with transaction(factory) as s:
        prune(s, now + timedelta(days=2))
    with transaction(factory) as s:
        assert not s.scalars(select(PerfBucket).where(PerfBucket.period == MINUTE)).all()
        assert endpoint_table(s, APP, now - timedelta(days=3), now)[0].requests == 120
        prune(s, now + timedelta(days=40))
    with transaction(factory) as s:
        assert endpoint_table(s, APP, now - timedelta(days=3), now) == []


@pytest.mark.parametrize(("path", "expected"), [
    ("/users/123", "/users/:id"),
    ("/users/123/posts/9?x=1", "/users/:id/posts/:id"),
    ("/o/550e8400-e29b-41d4-a716-446655440000", "/o/:id"),
    ("/blob/deadbeef12345678", "/blob/:id"),
    ("/about", "/about"),
    ("/", "/"),
])
def test_normalise_path(path: str, expected: str) -> None:
    assert normalise_path(path) == expected


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = ?"),
    ("select a from t where name = 'O''Brien' and x > 3.5",
     "select a from t where name = ? and x > ?"),
    ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (...)"),
    ("SELECT * FROM t WHERE id = %s", "SELECT * FROM t WHERE id = ?"),
    ("SELECT * FROM t2 WHERE id = $1 -- c", "SELECT * FROM t2 WHERE id = ?"),
    ("INSERT INTO t VALUES (1, 'a'), (2, 'b')", "INSERT INTO t VALUES (...), ..."),
])
def test_normalise_sql(sql: str, expected: str) -> None:
    assert normalise_sql(sql) == expected

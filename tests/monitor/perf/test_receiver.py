"""The OTLP receiver on a live uvicorn server: real SDK exports and hand-built edge cases."""

from __future__ import annotations

import gzip
import zlib
from datetime import timedelta

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine, func, select

from roost.monitor.perf.query import endpoint_detail, endpoint_table, trace
from roost.store.base import utcnow
from roost.store.models.perf import PerfBucket, PerfSample
from roost.store.session import make_sessionmaker, transaction
from tests.conftest import wait_for
from tests.monitor.perf.helpers import (
    APP,
    KEY,
    db_span,
    ids,
    live_receiver,
    now_s,
    request_body,
    server_span,
)

PB = {"content-type": "application/x-protobuf", "x-roost-ingest-key": KEY}


def _table(engine: Engine) -> dict[str, object]:
    with transaction(make_sessionmaker(engine)) as s:
        return {e.endpoint: e for e in endpoint_table(s, APP, utcnow() - timedelta(hours=1))}


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_export_shows_up_in_endpoint_table(engine: Engine, compression: Compression) -> None:
    with live_receiver(engine) as live:
        provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
        exporter = OTLPSpanExporter(endpoint=live.traces_url, headers={"x-roost-ingest-key": KEY},
                                    compression=compression)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer("test")
        for i in range(20):
            with tracer.start_as_current_span(
                "GET /items/{id}", kind=SpanKind.SERVER,
                attributes={"http.route": "/items/{id}", "http.request.method": "GET",
                            "url.path": f"/items/{i}", "http.response.status_code": 200},
            ), tracer.start_as_current_span(
                "SELECT", kind=SpanKind.CLIENT,
                attributes={"db.system": "postgresql",
                            "db.statement": f"SELECT * FROM items WHERE id = {i}"},
            ):
                pass
        assert provider.force_flush(10_000)
        provider.shutdown()
        live.service.flush()
    table = _table(engine)
    line = table["GET /items/{id}"]
    assert line.requests == 20  # type: ignore[attr-defined]
    with transaction(make_sessionmaker(engine)) as s:
        detail = endpoint_detail(s, APP, "GET /items/{id}", utcnow() - timedelta(hours=1))
        labels = {b.label for b in detail.breakdown}
        assert "SELECT * FROM items WHERE id = ?" in labels
        assert detail.samples, "a sample trace is kept"
        kept = trace(s, APP, detail.samples[0].trace_id)
        assert len(kept.spans) == 2


def test_json_payload_and_json_response(engine: Engine) -> None:
    trace_id, span_id = ids()
    start = int(now_s() * 1e9)
    body = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [
        {"traceId": trace_id.hex(), "spanId": span_id.hex(), "parentSpanId": "",
         "name": "POST /orders", "kind": 2, "startTimeUnixNano": str(start),
         "endTimeUnixNano": str(start + 12_000_000),
         "attributes": [{"key": "http.request.method", "value": {"stringValue": "POST"}},
                        {"key": "url.path", "value": {"stringValue": "/orders/123/items/9"}},
                        {"key": "http.response.status_code", "value": {"intValue": "500"}}],
         "status": {"code": 2}},
        {"traceId": "zz", "spanId": "00", "name": "bad", "startTimeUnixNano": "1",
         "endTimeUnixNano": "2"},
    ]}]}]}
    with live_receiver(engine) as live:
        r = httpx.post(live.traces_url, content=orjson.dumps(body),
                       headers={"content-type": "application/json",
                                "authorization": f"Bearer {KEY}"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["partialSuccess"]["rejectedSpans"] == "1"
        live.service.flush()
    line = _table(engine)["POST /orders/:id/items/:id"]
    assert line.requests == 1 and line.error_rate == 1.0  # type: ignore[attr-defined]


def test_bad_requests_are_refused_without_breaking_the_receiver(engine: Engine) -> None:
    trace_id, span_id = ids()
    good = request_body([server_span(trace_id, span_id, int(now_s() * 1e9), 5, "/ok")])
    with live_receiver(engine, max_body=1024 * 1024) as live:
        url = live.traces_url
        assert httpx.post(url, content=good, headers={"content-type": "application/x-protobuf"}
                          ).status_code == 401
        assert httpx.post(url, content=good, headers={**PB, "x-roost-ingest-key": "nope"}
                          ).status_code == 401
        assert httpx.post(url, content=good, headers={**PB, "content-type": "text/plain"}
                          ).status_code == 415
        assert httpx.post(url, content=good[: len(good) // 2], headers=PB).status_code == 400
        truncated_gzip = gzip.compress(good)[:-10]
        assert httpx.post(url, content=truncated_gzip,
                          headers={**PB, "content-encoding": "gzip"}).status_code == 400
        json_headers = {**PB, "content-type": "application/json"}
        for bad in (b"", b"[1,2", b'{"resourceSpans": 5}', b'{"resourceSpans": [{"scopeSpans":'
                    b' [{"spans": [{"traceId": "ab", "startTimeUnixNano": true}]}]}]}'):
            r = httpx.post(url, content=bad, headers=json_headers)
            assert r.status_code == 400, bad
            assert "message" in r.json()
        empty = httpx.post(url, content=b"", headers=PB)
        assert empty.status_code == 200
        assert not ExportTraceServiceResponse.FromString(empty.content).HasField(
            "partial_success")
        assert httpx.post(url, content=b"{}", headers=json_headers).status_code == 200
        # a gzip bomb: 300 MB of zeros in well under a megabyte
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = bytes(1024 * 1024)
        bomb = b"".join(packer.compress(block) for _ in range(300)) + packer.flush()
        assert len(bomb) < 1024 * 1024
        r = httpx.post(url, content=bomb, headers={**PB, "content-encoding": "gzip"})
        assert r.status_code == 413
        assert httpx.post(url, content=bytes(2 * 1024 * 1024), headers=PB).status_code == 413
        # still serving after all that
        ok = httpx.post(url, content=gzip.compress(good),
                        headers={**PB, "content-encoding": "gzip"})
        assert ok.status_code == 200
        live.service.flush()
    assert _table(engine)["GET /ok"].requests == 1  # type: ignore[attr-defined]


def test_huge_attributes_and_a_10000_span_trace(engine: Engine) -> None:
    trace_id, root_id = ids()
    start = int(now_s() * 1e9)
    huge = "SELECT " + "x" * 1_000_000
    children = [db_span(trace_id, root_id, start + i * 1000, 0.01, f"SELECT {i} FROM t")
                for i in range(9_998)]
    children.append(db_span(trace_id, root_id, start, 0.5, huge))
    spans = [server_span(trace_id, root_id, start, 900, "/big"), *children]
    with live_receiver(engine, max_body=64 * 1024 * 1024) as live:
        r = httpx.post(live.traces_url, content=request_body(spans), headers=PB, timeout=30)
        assert r.status_code == 200
        live.service.flush()
    with transaction(make_sessionmaker(engine)) as s:
        detail = endpoint_detail(s, APP, "GET /big", utcnow() - timedelta(hours=1))
        assert detail.stats.requests == 1
        calls = sum(b.calls_per_request for b in detail.breakdown if b.category == "db")
        assert calls == 9_999
        assert max(len(b.label) for b in detail.breakdown) <= 2001
        sample = s.scalars(select(PerfSample)).one()
        assert len(sample.spans) == 1000


def test_overload_answers_503_with_retry_after_and_worker_flushes(engine: Engine) -> None:
    from roost.monitor.perf.aggregator import Settings

    start = now_s()
    spans = []
    for i in range(8):
        trace_id, span_id = ids()
        spans.append(server_span(trace_id, span_id, int((start + i) * 1e9), 3, "/load"))
    with live_receiver(engine, settings=Settings(max_queue_spans=10)) as live:
        assert httpx.post(live.traces_url, content=request_body(spans), headers=PB
                          ).status_code == 200
        r = httpx.post(live.traces_url, content=request_body(spans), headers=PB)
        assert r.status_code in (429, 503)
        assert int(r.headers["retry-after"]) > 0
        live.service.start()  # the worker drains the queue and flushes on its own
        try:
            factory = make_sessionmaker(engine)

            def stored() -> int:
                with transaction(factory) as s:
                    return int(s.scalar(select(func.coalesce(func.sum(PerfBucket.count), 0))))

            wait_for(lambda: stored() == 8, timeout=10)
            again = httpx.post(live.traces_url, content=request_body(spans), headers=PB)
            assert again.status_code == 200
        finally:
            live.service.stop()

"""A live OTLP receiver on 127.0.0.1 and builders of OTLP payloads for perf tests."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from sqlalchemy import Engine

from roost.monitor.perf.aggregator import Settings
from roost.monitor.perf.flush import Finding
from roost.monitor.perf.receiver import build_router
from roost.monitor.perf.regress import RegressionRules
from roost.monitor.perf.service import PerfService
from roost.store.session import make_sessionmaker
from tests.conftest import free_port, wait_for

KEY = "ingest-key-shop"
APP = "shop"


@dataclass
class Live:
    """A running receiver: its base URL, the service behind it and the findings notified."""

    url: str
    service: PerfService
    notified: list[Finding] = field(default_factory=list)

    @property
    def traces_url(self) -> str:
        return self.url + "/v1/traces"


@contextmanager
def live_receiver(engine: Engine, *, settings: Settings | None = None,
                  rules: RegressionRules | None = None, max_body: int = 4 * 1024 * 1024,
                  worker: bool = False) -> Iterator[Live]:
    """Serve the OTLP router with uvicorn in a thread for the duration of the block."""
    notified: list[Finding] = []
    service = PerfService(make_sessionmaker(engine), {KEY: APP, "other-key": "blog"}.get,
                          notify=notified.append, settings=settings, rules=rules,
                          flush_interval=0.2, max_body_bytes=max_body)
    app = FastAPI()
    app.include_router(build_router(lambda: service))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10)
    if worker:
        service.start()
    try:
        yield Live(f"http://127.0.0.1:{port}", service, notified)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if worker:
            service.stop()


def kv(key: str, value: Any) -> KeyValue:
    """An OTLP attribute."""
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def ids() -> tuple[bytes, bytes]:
    """A random trace id and span id."""
    return os.urandom(16), os.urandom(8)


def server_span(trace_id: bytes, span_id: bytes, start_ns: int, ms: float, route: str,
                method: str = "GET", status: int = 200) -> Span:
    """A root SERVER span."""
    return Span(trace_id=trace_id, span_id=span_id, name=f"{method} {route}", kind=2,
                start_time_unix_nano=start_ns, end_time_unix_nano=start_ns + int(ms * 1e6),
                attributes=[kv("http.route", route), kv("http.request.method", method),
                            kv("http.response.status_code", status)])


def db_span(trace_id: bytes, parent: bytes, start_ns: int, ms: float, sql: str) -> Span:
    """A database CLIENT span."""
    return Span(trace_id=trace_id, span_id=os.urandom(8), parent_span_id=parent, name="SELECT",
                kind=3, start_time_unix_nano=start_ns, end_time_unix_nano=start_ns + int(ms * 1e6),
                attributes=[kv("db.system", "postgresql"), kv("db.statement", sql)])


def request_body(spans: list[Span]) -> bytes:
    """An ExportTraceServiceRequest holding ``spans``."""
    req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[kv("service.name", "shop")]),
        scope_spans=[ScopeSpans(spans=spans)])])
    return req.SerializeToString()


def requests_at(route: str, start_s: float, durations_ms: list[float]) -> list[Span]:
    """One root span per duration, spread one second apart from ``start_s``."""
    spans = []
    for i, ms in enumerate(durations_ms):
        trace_id, span_id = ids()
        spans.append(server_span(trace_id, span_id, int((start_s + i) * 1e9), ms, route))
    return spans


def now_s() -> float:
    """The current time in epoch seconds."""
    return time.time()

"""Traces from the OpenTelemetry SDK reach a live `roost up` and show in `roost perf`."""

from __future__ import annotations

import json
import time

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tests.conftest import wait_for
from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok


def test_sdk_traces_show_in_roost_perf(server: Server) -> None:
    ok(server, "apps", "create", "shop")
    config = json.loads(ok(server, "config", "shop", "--reveal", "--json"))
    assert config["OTEL_SERVICE_NAME"] == "shop"
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == server.url
    name, _, key = config["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")

    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    exporter = OTLPSpanExporter(endpoint=config["OTEL_EXPORTER_OTLP_ENDPOINT"] + "/v1/traces",
                                headers={name: key})
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for i in range(40):
        root_attrs = {"http.route": "/items/{id}", "http.request.method": "GET",
                      "http.response.status_code": 200}
        db_attrs = {"db.system": "postgresql", "db.statement": f"SELECT {i}"}
        start = time.time_ns()
        with tracer.start_as_current_span("GET /items/{id}", kind=SpanKind.SERVER,
                                          attributes=root_attrs, start_time=start,
                                          end_on_exit=False) as root:
            db = tracer.start_span("SELECT", kind=SpanKind.CLIENT, attributes=db_attrs,
                                   start_time=start + 100_000)
            db.end(end_time=start + 2_100_000)  # a 2 ms query inside a 3 ms request
        root.end(end_time=start + 3_000_000)
    provider.force_flush()
    provider.shutdown()

    def shown() -> list[dict[str, object]]:
        rows = json.loads(ok(server, "perf", "shop", "--json"))
        return [r for r in rows if r["requests"] == 40]

    rows = wait_for(shown, timeout=30, interval=0.5)
    assert isinstance(rows, list) and rows[0]["endpoint"].endswith("/items/{id}")
    detail = json.loads(ok(server, "perf", "shop", str(rows[0]["endpoint"]), "--json"))
    assert detail["stats"]["requests"] == 40 and "db" in detail["categories"]
    missing = server.roost("perf", "shop", "GET /nope")
    assert missing.returncode != 0 and "no traffic" in missing.stderr
    bad = server.roost("perf", "shop", "--since", "forever")
    assert bad.returncode != 0 and "invalid duration" in bad.stderr

    browser = httpx.Client(base_url=server.url)
    token = json.loads((server.home / "credentials.json").read_text())["token"]
    browser.post("/login", data={"token": token})
    page = browser.get("/apps/shop")
    assert page.status_code == 200 and "/items/{id}" in page.text
    endpoint_page = browser.get("/apps/shop/perf", params={"endpoint": rows[0]["endpoint"]})
    assert endpoint_page.status_code == 200 and "<svg" in endpoint_page.text
    trace_id = detail["samples"][0]["trace_id"]
    trace_page = browser.get(f"/apps/shop/traces/{trace_id}")
    assert trace_page.status_code == 200 and "SELECT" in trace_page.text


def test_rotate_key_refuses_the_old_key_at_once(server: Server) -> None:
    ok(server, "apps", "create", "shop")

    def key() -> str:
        config = json.loads(ok(server, "config", "shop", "--reveal", "--json"))
        return str(config["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")[2])

    def export(with_key: str) -> int:
        return httpx.post(server.url + "/v1/traces", content=b'{"resourceSpans": []}',
                          headers={"content-type": "application/json",
                                   "x-roost-ingest-key": with_key}).status_code

    old = key()
    assert export(old) == 200  # and now cached
    out = ok(server, "perf", "shop", "--rotate-key")
    assert "the old key is refused from now on" in out
    assert key() != old and export(key()) == 200
    assert export(old) == 401

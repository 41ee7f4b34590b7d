"""roost.agent against real servers: spans produced, exported as OTLP, never blocking."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from wsgiref.util import setup_testing_defaults

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from roost.agent import Agent, ASGIMiddleware, WSGIMiddleware, instrument_sqlalchemy, span
from roost.monitor.perf.otlp import Span, decode_json, decode_protobuf
from tests.conftest import free_port, wait_for


class Sink:
    """An OTLP/HTTP endpoint on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                sink.bodies.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[Span]:
        out: list[Span] = []
        for headers, body in self.bodies:
            if headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if headers["content-type"] == "application/json":
                out += decode_json(body).spans
            else:
                out += decode_protobuf(body).spans
        return out


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.server.shutdown()


def _wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    with span("render page", category="view", items=-3, ratio=0.5, cached=True):
        pass
    start_response("200 OK" if environ["PATH_INFO"] != "/boom" else "500 Oops", [])
    return [b"hi"]


def _get(app: Any, path: str, **extra: str) -> None:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, **extra)
    app(environ, lambda status, headers, exc_info=None: None)


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_wsgi_spans_exported(sink: Sink, protocol: str) -> None:
    agent = Agent(endpoint=sink.url, headers={"x-roost-ingest-key": "k"}, service_name="svc",
                  protocol=protocol, gzip=False)
    app = WSGIMiddleware(_wsgi, agent)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    _get(app, "/users/5", HTTP_TRACEPARENT=parent)
    _get(app, "/boom")
    assert agent.flush(5)
    headers, _ = sink.bodies[0]
    assert headers["x-roost-ingest-key"] == "k"
    assert headers["content-type"] == ("application/json" if protocol == "http/json"
                                       else "application/x-protobuf")
    spans = sink.spans()
    roots = [s for s in spans if s.kind == 2]
    assert len(roots) == 2 and len(spans) == 4
    first, boom = roots
    assert first.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert first.parent_id.hex() == "b7ad6b7169203331"
    assert first.attrs["url.path"] == "/users/5" and first.attrs["http.response.status_code"] == 200
    assert boom.error and not first.error
    view = [s for s in spans if s.kind == 1 and s.trace_id == first.trace_id][0]
    assert view.parent_id == first.span_id and view.attrs["roost.category"] == "view"
    assert view.name == "render page"
    assert first.start <= view.start <= view.end <= first.end


def test_asgi_route_and_sqlalchemy_spans_on_uvicorn(sink: Sink) -> None:
    agent = Agent(endpoint=sink.url, service_name="api", gzip=True)
    db = create_engine("sqlite://")
    instrument_sqlalchemy(db)
    api = FastAPI()

    @api.get("/things/{thing_id}")
    def thing(thing_id: int) -> dict[str, int]:
        with db.connect() as conn:
            for _ in range(3):
                conn.execute(text("SELECT :x + 1"), {"x": thing_id})
        return {"id": thing_id}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(ASGIMiddleware(api, agent), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/things/42").json() == {"id": 42}
        assert httpx.get(f"http://127.0.0.1:{port}/nowhere").status_code == 404
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert agent.flush(5)
    assert sink.bodies[0][0]["content-encoding"] == "gzip"
    spans = sink.spans()
    roots = {s.attrs["url.path"]: s for s in spans if s.kind == 2}
    assert roots["/things/42"].attrs["http.route"] == "/things/{thing_id}"
    assert roots["/things/42"].name == "GET /things/{thing_id}"
    assert "http.route" not in roots["/nowhere"].attrs
    queries = [s for s in spans if s.attrs.get("db.system") == "sqlite"]
    assert len(queries) == 3
    assert all(q.parent_id == roots["/things/42"].span_id for q in queries)
    assert all("SELECT" in str(q.attrs["db.statement"]) for q in queries)


def test_unreachable_roost_drops_instead_of_blocking_or_growing(closed_port: int) -> None:
    agent = Agent(endpoint=f"http://127.0.0.1:{closed_port}", max_queue=100, batch_size=50,
                  interval=0.01, timeout=0.5)
    app = WSGIMiddleware(_wsgi, agent)
    worst = 0
    for _ in range(5000):
        t = time.perf_counter()
        _get(app, "/x")
        worst = max(worst, time.perf_counter() - t)
        assert len(agent._queue) <= 100
    assert worst < 0.05  # a request never waits on the exporter
    wait_for(lambda: agent.failures > 0, timeout=10)
    assert agent.dropped > 0 and agent.exported == 0


def test_configured_from_standard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://roost.example:8443/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-roost-ingest-key=abc%3D,other = 1")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    agent = Agent()
    assert agent.url == "https://roost.example:8443/v1/traces"
    assert agent.headers == {"x-roost-ingest-key": "abc=", "other": "1"}
    assert agent.service_name == "shop"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://h:1/custom")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    other = Agent()
    assert other.url == "http://h:1/custom" and not other.enabled


def test_streamed_wsgi_body_ends_the_request_on_close(sink: Sink) -> None:
    agent = Agent(endpoint=sink.url)

    def streaming(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"a"
        time.sleep(0.02)  # the body takes time to produce; the span must include it
        yield b"b"

    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    body = WSGIMiddleware(streaming, agent)(environ, lambda *a: None)
    assert b"".join(body) == b"ab"
    body.close()  # type: ignore[attr-defined]
    assert agent.flush(5)
    [root] = sink.spans()
    assert root.duration_ms >= 20

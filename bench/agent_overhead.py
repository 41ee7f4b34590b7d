"""Per-request overhead of roost.agent vs the OpenTelemetry SDK on a minimal WSGI app.

Each variant serves the same app, called in-process in a tight loop with a real WSGI
environ; both tracers export OTLP over HTTP to a sink in another process, with queues
large enough that nothing is dropped, and each round's time includes flushing every
span, so all export work is counted. Target: roost.agent adds < 25 µs
per request and at most a quarter of what the SDK adds.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any
from wsgiref.util import setup_testing_defaults

ROUNDS = 5
REQUESTS = 40_000

SINK = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"hello"]


def otel_sdk_app(endpoint: str) -> Any:
    """The same app traced by the OpenTelemetry SDK, as its WSGI instrumentation does."""
    from opentelemetry import context, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint), max_queue_size=REQUESTS * 2))
    tracer = provider.get_tracer("bench")

    def traced(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        span = tracer.start_span(
            environ["REQUEST_METHOD"], kind=SpanKind.SERVER,
            attributes={"http.request.method": environ["REQUEST_METHOD"],
                        "url.path": environ["PATH_INFO"]})
        token = context.attach(trace.set_span_in_context(span))

        def sr(status: str, headers: Any, exc_info: Any = None) -> Any:
            code = int(status[:3])
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return start_response(status, headers, exc_info)

        try:
            return app(environ, sr)
        finally:
            context.detach(token)
            span.end()

    traced.provider = provider  # type: ignore[attr-defined]
    return traced


def measure(wsgi: Any, n: int, flush: Any = None) -> float:
    """Mean µs per request over ``n`` calls, including flushing what they produced."""
    base: dict[str, Any] = {}
    setup_testing_defaults(base)
    base["PATH_INFO"] = "/hello"

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    t = time.perf_counter()
    for _ in range(n):
        wsgi(dict(base), start_response)
    if flush is not None:
        flush()
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    from roost.agent import Agent, WSGIMiddleware

    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        agent = Agent(endpoint=url, service_name="bench", max_queue=REQUESTS * 2)
        sdk = otel_sdk_app(url + "/v1/traces")
        variants = {
            "none": app,
            "roost.agent": WSGIMiddleware(app, agent),
            "opentelemetry-sdk": sdk,
        }
        flushes = {"none": None, "roost.agent": lambda: agent.flush(60),
                   "opentelemetry-sdk": lambda: sdk.provider.force_flush(60_000)}
        for wsgi in variants.values():
            measure(wsgi, 2000)  # warm up
        agent.flush(60)
        sdk.provider.force_flush(60_000)
        best = {name: float("inf") for name in variants}
        for _ in range(ROUNDS):
            for name, wsgi in variants.items():
                best[name] = min(best[name], measure(wsgi, REQUESTS, flushes[name]))
        sdk.provider.shutdown()
        roost_added = best["roost.agent"] - best["none"]
        sdk_added = best["opentelemetry-sdk"] - best["none"]
        print(f"requests per variant per round: {REQUESTS}, rounds: {ROUNDS} (best round kept)")
        print(f"no instrumentation     : {best['none']:7.2f} µs/request")
        print(f"roost.agent            : {best['roost.agent']:7.2f} µs/request "
              f"(+{roost_added:.2f} µs)  exported={agent.exported} dropped={agent.dropped}")
        print(f"OpenTelemetry SDK      : {best['opentelemetry-sdk']:7.2f} µs/request "
              f"(+{sdk_added:.2f} µs)  BatchSpanProcessor + OTLP/HTTP exporter")
        print(f"roost.agent adds {roost_added:.2f} µs (target < 25), "
              f"{roost_added / sdk_added:.2f}× the SDK's (target ≤ 0.25)")
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()

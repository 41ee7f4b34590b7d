"""OTLP ingest throughput of Roost's perf receiver, protobuf and JSON.

A real uvicorn server (one process) runs the receiver with aggregation and periodic
flushes to a SQLite store; several client processes post batches of realistic traces
(a SERVER root, database, HTTP-client and internal spans) over keep-alive connections.
Printed: spans/s accepted, spans/s aggregated, and spans per CPU-second of the server
process (i.e. per core) beside the OpenTelemetry Collector's published figure.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import subprocess
import sys
import tempfile
import time

import httpx
import orjson

CLIENTS = 3
SECONDS = 8.0
TRACES_PER_BATCH = 50
COLLECTOR_PER_CORE = "10,000–12,000 spans/s per core (OpenTelemetry Collector, published)"

SERVER = r"""
import sys, uvicorn
from fastapi import FastAPI
from roost.monitor.perf.receiver import build_router
from roost.monitor.perf.service import PerfService
from roost.store.base import Base
from roost.store import models
from roost.store.session import make_engine, make_sessionmaker
engine = make_engine(sys.argv[1]); Base.metadata.create_all(engine)
service = PerfService(make_sessionmaker(engine), {"bench-key": "bench"}.get, flush_interval=2.0)
app = FastAPI(); app.include_router(build_router(lambda: service))
@app.get("/stats")
def stats():
    return {"spans": service.aggregator.spans, "queued": service.aggregator.queued_spans,
            "requests": service.aggregator.requests}
service.start()
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _trace(rng: random.Random, now_ns: int) -> list[dict]:
    tid = rng.randbytes(16)
    root = rng.randbytes(8)
    route = f"/api/v1/resource{rng.randrange(20)}/{{id}}"
    start = now_ns - rng.randrange(10**9)
    spans = [dict(tid=tid, sid=root, pid=b"", name=f"GET {route}", kind=2, start=start,
                  end=start + 40_000_000, attrs={"http.route": route, "http.request.method": "GET",
                                                 "url.path": route.replace("{id}", "42"),
                                                 "http.response.status_code": 200,
                                                 "user_agent.original": "Mozilla/5.0 bench"})]
    for i in range(6):
        spans.append(dict(tid=tid, sid=rng.randbytes(8), pid=root, name="SELECT", kind=3,
                          start=start + i * 3_000_000, end=start + i * 3_000_000 + 2_000_000,
                          attrs={"db.system": "postgresql",
                                 "db.statement": f"SELECT * FROM t{i % 3} WHERE id = {i}"}))
    spans.append(dict(tid=tid, sid=rng.randbytes(8), pid=root, name="GET", kind=3,
                      start=start + 20_000_000, end=start + 30_000_000,
                      attrs={"http.request.method": "GET", "server.address": "api.example"}))
    for name in ("render", "serialize"):
        spans.append(dict(tid=tid, sid=rng.randbytes(8), pid=root, name=name, kind=1,
                          start=start + 31_000_000, end=start + 35_000_000, attrs={}))
    return spans


def _protobuf(spans: list[dict]) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add(key="service.name")
    kv.value.string_value = "bench"
    ss = rs.scope_spans.add()
    for s in spans:
        span = ss.spans.add(trace_id=s["tid"], span_id=s["sid"], parent_span_id=s["pid"],
                            name=s["name"], kind=s["kind"], start_time_unix_nano=s["start"],
                            end_time_unix_nano=s["end"])
        for k, v in s["attrs"].items():
            a = span.attributes.add(key=k)
            if isinstance(v, int):
                a.value.int_value = v
            else:
                a.value.string_value = v
    return req.SerializeToString()


def _json(spans: list[dict]) -> bytes:
    def value(v: object) -> dict:
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}

    return orjson.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{
        "spans": [{"traceId": s["tid"].hex(), "spanId": s["sid"].hex(),
                   "parentSpanId": s["pid"].hex(), "name": s["name"], "kind": s["kind"],
                   "startTimeUnixNano": str(s["start"]), "endTimeUnixNano": str(s["end"]),
                   "attributes": [{"key": k, "value": value(v)} for k, v in s["attrs"].items()],
                   "status": {}} for s in spans]}]}]})


def client(url: str, encoding: str, seed: int, seconds: float, out: mp.Queue) -> None:
    """Post pre-built batches for ``seconds``; report spans accepted."""
    rng = random.Random(seed)
    batches = []
    for _ in range(20):
        spans = [s for _ in range(TRACES_PER_BATCH) for s in _trace(rng, time.time_ns())]
        body = _protobuf(spans) if encoding == "protobuf" else _json(spans)
        batches.append((body, len(spans)))
    ctype = "application/x-protobuf" if encoding == "protobuf" else "application/json"
    accepted = refused = 0
    with httpx.Client(headers={"content-type": ctype, "x-roost-ingest-key": "bench-key"}) as http:
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            body, n = batches[i % len(batches)]
            i += 1
            r = http.post(url, content=body)
            if r.status_code == 200:
                accepted += n
            else:
                refused += n
                time.sleep(float(r.headers.get("retry-after", "0.1")) / 10)
    out.put((accepted, refused))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(encoding: str, port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    before = httpx.get(base + "/stats").json()["spans"]
    cpu0 = _cpu_seconds(SERVER_PID)
    out: mp.Queue = mp.Queue()
    procs = [mp.Process(target=client, args=(base + "/v1/traces", encoding, i, SECONDS, out))
             for i in range(CLIENTS)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    sent_time = time.monotonic() - t0
    while httpx.get(base + "/stats").json()["queued"] > 0:
        time.sleep(0.05)
    done_time = time.monotonic() - t0
    cpu = _cpu_seconds(SERVER_PID) - cpu0
    aggregated = httpx.get(base + "/stats").json()["spans"] - before
    accepted = sum(a for a, _ in results)
    refused = sum(r for _, r in results)
    print(f"{encoding:8s}: accepted {accepted / sent_time:9,.0f} spans/s, aggregated "
          f"{aggregated / done_time:9,.0f} spans/s, {aggregated / cpu:9,.0f} spans per "
          f"server CPU-second ({refused:,} refused with 429/503)")


SERVER_PID = 0


def _check_store(url: str, port: int) -> None:
    """Wait for a flush, then confirm every aggregated request reached the store."""
    from sqlalchemy import create_engine, text

    requests = httpx.get(f"http://127.0.0.1:{port}/stats").json()["requests"]
    engine = create_engine(url)
    deadline = time.monotonic() + 15
    stored = 0
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT coalesce(sum(count), 0) FROM perf_buckets")
                                  ).scalar_one()
        if stored >= requests:
            break
        time.sleep(0.2)
    print(f"store check: {stored:,} requests in perf_buckets of {requests:,} aggregated")


def main() -> None:
    global SERVER_PID
    with tempfile.TemporaryDirectory() as tmp:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-c", SERVER, f"sqlite:///{tmp}/bench.db",
                                   str(port)], env={**os.environ, "PYTHONPATH": os.getcwd()})
        SERVER_PID = server.pid
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/stats")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            print(f"{os.cpu_count()} cores; one uvicorn server process; {CLIENTS} client "
                  f"processes; {TRACES_PER_BATCH * 10} spans per batch; {SECONDS:.0f} s each")
            run("protobuf", port)
            run("json", port)
            print(f"target: ≥ 20,000 spans/s per core; reference: {COLLECTOR_PER_CORE}")
            _check_store(f"sqlite:///{tmp}/bench.db", port)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()

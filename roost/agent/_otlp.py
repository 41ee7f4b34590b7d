"""Turning finished requests into OTLP/JSON export bodies (protobuf is in ``_pb``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from roost.agent._core import DB, Trace

MAX_STATEMENT = 2000
SERVER, CLIENT, INTERNAL = 2, 3, 1
Record = tuple[bytes, bytes, bytes, str, int, int, int, bool, list[tuple[str, Any]]]


def _id(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big") if value else b""


def records(trace: Trace) -> Iterator[Record]:
    """Every span of ``trace`` with epoch times, byte ids, a name and attributes."""
    offset = trace.epoch_ns - trace.start
    tid = _id(trace.trace_id, 16)
    root = _id(trace.span_id, 8)
    attrs: list[tuple[str, Any]] = [("http.request.method", trace.method),
                                    ("url.path", trace.path)]
    if trace.route:
        attrs.append(("http.route", trace.route))
    if trace.status:
        attrs.append(("http.response.status_code", trace.status))
    name = f"{trace.method} {trace.route}" if trace.route else trace.method
    yield (tid, root, _id(trace.parent_id, 8), name, SERVER, trace.epoch_ns, trace.end + offset,
           trace.error or trace.status >= 500, attrs)
    for rec in trace.spans:
        if rec[0] == DB:
            statement: str = rec[7]
            words = statement.split(None, 1)
            yield (tid, _id(rec[1], 8), _id(rec[2], 8), words[0].upper() if words else "query",
                   CLIENT, rec[3] + offset, rec[4] + offset, rec[5],
                   [("db.system", rec[6]), ("db.statement", statement[:MAX_STATEMENT])])
        else:
            extra = list(rec[7].items()) if rec[7] else []
            yield (tid, _id(rec[1], 8), _id(rec[2], 8), rec[6], INTERNAL, rec[3] + offset,
                   rec[4] + offset, rec[5], extra)


def encode_json(traces: list[Trace], service: str) -> bytes:
    """OTLP/JSON for ``traces`` (hex ids, lowerCamelCase, int64 as strings)."""
    spans = []
    for trace in traces:
        for tid, sid, pid, name, kind, start, end, error, attrs in records(trace):
            values = []
            for key, value in attrs:
                if isinstance(value, bool):
                    values.append({"key": key, "value": {"boolValue": value}})
                elif isinstance(value, int):
                    values.append({"key": key, "value": {"intValue": str(value)}})
                elif isinstance(value, float):
                    values.append({"key": key, "value": {"doubleValue": value}})
                else:
                    values.append({"key": key, "value": {"stringValue": str(value)}})
            spans.append({
                "traceId": tid.hex(), "spanId": sid.hex(), "parentSpanId": pid.hex(),
                "name": name, "kind": kind, "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(end), "attributes": values,
                "status": {"code": 2 if error else 0},
            })
    body = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "roost.agent"}, "spans": spans}],
    }]}
    return json.dumps(body, separators=(",", ":")).encode()

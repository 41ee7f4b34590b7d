"""Turning finished requests into OTLP export bodies: protobuf when available, else JSON."""

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


def protobuf_encoder() -> Any:
    """A protobuf encoder function, or None when opentelemetry-proto is not installed."""
    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
    except ImportError:
        return None

    def encode(traces: list[Trace], service: str) -> bytes:
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        kv = resource_spans.resource.attributes.add()
        kv.key = "service.name"
        kv.value.string_value = service
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "roost.agent"
        add = scope_spans.spans.add
        for trace in traces:
            for tid, sid, pid, name, kind, start, end, error, attrs in records(trace):
                span = add(trace_id=tid, span_id=sid, parent_span_id=pid, name=name, kind=kind,
                           start_time_unix_nano=start, end_time_unix_nano=end)
                if error:
                    span.status.code = 2
                add_attr = span.attributes.add
                for key, value in attrs:
                    attr = add_attr(key=key)
                    if isinstance(value, bool):
                        attr.value.bool_value = value
                    elif isinstance(value, int):
                        attr.value.int_value = value
                    elif isinstance(value, float):
                        attr.value.double_value = value
                    else:
                        attr.value.string_value = str(value)
        return request.SerializeToString()

    return encode

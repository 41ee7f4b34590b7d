"""Decoding OTLP trace exports (protobuf and JSON) into Roost's compact span records.

Only the attributes Roost uses are kept, each value cut to ``MAX_VALUE`` characters,
so one huge attribute cannot blow up memory or a stored sample.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from roost.errors import InvalidInput

MAX_VALUE = 2000
STATUS_ERROR = 2
KEEP = frozenset(
    {
        "http.route",
        "http.method",
        "http.request.method",
        "url.path",
        "url.full",
        "url.query",
        "http.target",
        "http.url",
        "http.status_code",
        "http.response.status_code",
        "db.system",
        "db.system.name",
        "db.statement",
        "db.query.text",
        "db.operation",
        "db.name",
        "server.address",
        "net.peer.name",
        "peer.service",
        "code.function",
        "code.namespace",
        "roost.category",
        "exception.type",
        "error.type",
    }
)
_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}

Attrs = dict[str, str | int | float | bool]


class Span:
    """One span as Roost keeps it: ids as bytes, times in ns since the epoch."""

    __slots__ = ("trace_id", "span_id", "parent_id", "name", "kind", "start", "end", "error",
                 "attrs")

    def __init__(
        self,
        trace_id: bytes,
        span_id: bytes,
        parent_id: bytes,
        name: str,
        kind: int,
        start: int,
        end: int,
        error: bool,
        attrs: Attrs,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.name = name
        self.kind = kind
        self.start = start
        self.end = end
        self.error = error
        self.attrs = attrs

    @property
    def duration_ms(self) -> float:
        """The span's duration in milliseconds."""
        return (self.end - self.start) / 1e6

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, as stored in sample traces."""
        return {
            "span_id": self.span_id.hex(),
            "parent_id": self.parent_id.hex(),
            "name": self.name,
            "kind": self.kind,
            "start_ns": self.start,
            "end_ns": self.end,
            "error": self.error,
            "attrs": self.attrs,
        }


class Decoded:
    """The spans of one export request plus how many were rejected, and why."""

    __slots__ = ("spans", "rejected", "reason")

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.rejected = 0
        self.reason = ""


def _valid(decoded: Decoded, trace_id: bytes, span_id: bytes, start: int, end: int) -> bool:
    if len(trace_id) != 16 or len(span_id) != 8 or not any(trace_id) or not any(span_id):
        decoded.rejected += 1
        decoded.reason = "invalid trace or span id"
        return False
    if end < start or start <= 0:
        decoded.rejected += 1
        decoded.reason = "span ends before it starts"
        return False
    return True


def _cut(value: str) -> str:
    return value if len(value) <= MAX_VALUE else value[:MAX_VALUE] + "…"


def decode_protobuf(body: bytes) -> Decoded:
    """Decode an ``ExportTraceServiceRequest``; raise InvalidInput when it is malformed."""
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise InvalidInput(f"malformed OTLP protobuf: {exc}") from exc
    decoded = Decoded()
    append = decoded.spans.append
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                trace_id = s.trace_id
                span_id = s.span_id
                start = s.start_time_unix_nano
                end = s.end_time_unix_nano
                if not _valid(decoded, trace_id, span_id, start, end):
                    continue
                attrs: Attrs = {}
                for kv in s.attributes:
                    key = kv.key
                    if key in KEEP:
                        v = kv.value
                        which = v.WhichOneof("value")
                        if which == "string_value":
                            attrs[key] = _cut(v.string_value)
                        elif which == "int_value":
                            attrs[key] = v.int_value
                        elif which == "double_value":
                            attrs[key] = v.double_value
                        elif which == "bool_value":
                            attrs[key] = v.bool_value
                append(
                    Span(trace_id, span_id, s.parent_span_id, _cut(s.name), s.kind, start, end,
                         s.status.code == STATUS_ERROR, attrs)
                )
    return decoded


def _hex_id(value: object) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return bytes.fromhex(value)
    except ValueError:
        # Some exporters send ids base64-encoded, as protobuf's JSON mapping of bytes.
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return b""


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInput("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError as exc:
            raise InvalidInput(f"expected an integer, got {value[:40]!r}") from exc
    if value is None:
        return 0
    raise InvalidInput(f"expected an integer, got {type(value).__name__}")


def _json_value(value: object) -> str | int | float | bool | None:
    if not isinstance(value, dict):
        return None
    if "stringValue" in value and isinstance(value["stringValue"], str):
        return _cut(value["stringValue"])
    if "intValue" in value:
        return _int(value["intValue"])
    if "doubleValue" in value and isinstance(value["doubleValue"], int | float | str):
        try:
            return float(value["doubleValue"])
        except ValueError:
            return None
    if "boolValue" in value and isinstance(value["boolValue"], bool):
        return value["boolValue"]
    return None


def _list(obj: object, key: str) -> Iterable[dict[str, Any]]:
    if not isinstance(obj, dict):
        raise InvalidInput("malformed OTLP JSON: expected an object")
    items = obj.get(key) or []
    if not isinstance(items, list):
        raise InvalidInput(f"malformed OTLP JSON: {key} is not a list")
    for item in items:
        if not isinstance(item, dict):
            raise InvalidInput(f"malformed OTLP JSON: an item of {key} is not an object")
        yield item


def decode_json(body: bytes) -> Decoded:
    """Decode OTLP/JSON (hex ids, lowerCamelCase, int64 as strings, enums as numbers)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed OTLP JSON: {exc}") from exc
    decoded = Decoded()
    append = decoded.spans.append
    for resource_spans in _list(doc, "resourceSpans"):
        for scope_spans in _list(resource_spans, "scopeSpans"):
            for s in _list(scope_spans, "spans"):
                trace_id = _hex_id(s.get("traceId"))
                span_id = _hex_id(s.get("spanId"))
                start = _int(s.get("startTimeUnixNano"))
                end = _int(s.get("endTimeUnixNano"))
                if not _valid(decoded, trace_id, span_id, start, end):
                    continue
                attrs: Attrs = {}
                for kv in _list(s, "attributes"):
                    key = kv.get("key")
                    if key in KEEP:
                        value = _json_value(kv.get("value"))
                        if value is not None:
                            attrs[key] = value
                kind = s.get("kind", 0)
                kind = _KINDS.get(kind, 0) if isinstance(kind, str) else _int(kind)
                status = s.get("status")
                code = status.get("code", 0) if isinstance(status, dict) else 0
                error = code in (STATUS_ERROR, "STATUS_CODE_ERROR")
                name = s.get("name")
                append(
                    Span(trace_id, span_id, _hex_id(s.get("parentSpanId")),
                         _cut(name) if isinstance(name, str) else "", kind, start, end, error,
                         attrs)
                )
    return decoded


def encode_response(rejected: int, message: str, as_json: bool) -> bytes:
    """An ``ExportTraceServiceResponse`` with ``partial_success`` when spans were dropped."""
    if as_json:
        if not rejected:
            return b"{}"
        return orjson.dumps(
            {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}}
        )
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return response.SerializeToString()


def encode_status(code: int, message: str, as_json: bool) -> bytes:
    """A ``google.rpc.Status`` error body in the request's encoding."""
    if as_json:
        return orjson.dumps({"code": code, "message": message})
    try:
        from google.rpc.status_pb2 import Status
    except ImportError:  # googleapis-common-protos is optional; a text body is still valid
        return message.encode()
    return Status(code=code, message=message).SerializeToString()

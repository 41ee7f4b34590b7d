"""The OTLP/HTTP trace receiver: ``POST /v1/traces`` in protobuf or JSON, optionally gzipped.

Bodies are read as a stream and decompressed with a cap, so neither a large upload nor a
gzip bomb can use more than ``max_body_bytes`` of memory. Malformed payloads get 400
(the exporter must not retry), an overloaded queue 429/503 with ``Retry-After``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from fastapi import APIRouter, Depends, Request, Response

from roost.errors import InvalidInput
from roost.monitor.perf.otlp import decode_json, decode_protobuf, encode_response, encode_status
from roost.monitor.perf.service import PerfService

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
KEY_HEADER = "x-roost-ingest-key"
# google.rpc.Code values used in error bodies
_INVALID_ARGUMENT, _UNAUTHENTICATED, _RESOURCE_EXHAUSTED, _UNAVAILABLE = 3, 16, 8, 14


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, gzipped: bool, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    out = bytearray()
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _TooLarge
            if inflater is None:
                out += chunk
                continue
            data = chunk
            while data:
                out += inflater.decompress(data, limit - len(out) + 1)
                if len(out) > limit:
                    raise _TooLarge
                data = inflater.unconsumed_tail
        if inflater is not None and not inflater.eof:
            raise InvalidInput("truncated gzip body")
    except zlib.error as exc:
        raise InvalidInput(f"bad gzip body: {exc}") from exc
    return bytes(out)


def _ingest_key(request: Request) -> str:
    key = request.headers.get(KEY_HEADER, "")
    if not key:
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
    return key


def build_router(get_service: Callable[..., PerfService]) -> APIRouter:
    """An APIRouter with ``POST /v1/traces``; ``get_service`` is a FastAPI dependency."""
    router = APIRouter(tags=["otlp"])

    @router.post("/v1/traces", response_class=Response, include_in_schema=True)
    async def export_traces(request: Request,
                            service: PerfService = Depends(get_service)) -> Response:
        """Receive an OTLP trace export."""
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype not in (PROTOBUF, JSON):
            return Response(f"unsupported content type {ctype!r}; send {PROTOBUF} or {JSON}",
                            status_code=415, media_type="text/plain")
        as_json = ctype == JSON

        def fail(status: int, code: int, message: str, retry_after: int | None = None
                 ) -> Response:
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            return Response(encode_status(code, message, as_json), status_code=status,
                            media_type=ctype, headers=headers)

        key = _ingest_key(request)
        app = await service.keys.app_for(key) if key else None
        if app is None:
            return fail(401, _UNAUTHENTICATED,
                        f"missing or unknown ingest key: send it in the {KEY_HEADER} header")
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("gzip", "identity", ""):
            return fail(415, _INVALID_ARGUMENT, f"unsupported content encoding {encoding!r}")
        try:
            body = await _read_body(request, encoding == "gzip", service.max_body_bytes)
            decoded = decode_json(body) if as_json else decode_protobuf(body)
        except _TooLarge:
            return fail(413, _INVALID_ARGUMENT,
                        f"body larger than {service.max_body_bytes} bytes after decompression")
        except InvalidInput as exc:
            return fail(400, _INVALID_ARGUMENT, exc.message)
        if decoded.spans:
            verdict = service.aggregator.submit(app, decoded.spans)
            if verdict == "full":
                return fail(503, _UNAVAILABLE, "trace queue full, retry later", retry_after=5)
            if verdict == "app":
                return fail(429, _RESOURCE_EXHAUSTED,
                            f"too many queued spans for app {app}", retry_after=2)
        return Response(encode_response(decoded.rejected, decoded.reason, as_json),
                        media_type=ctype)

    return router

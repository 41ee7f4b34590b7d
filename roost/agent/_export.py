"""The agent object and its exporter thread: batches, gzip, HTTP POST, drop when behind."""

from __future__ import annotations

import http.client
import logging
import os
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from roost.agent._core import Trace, perf_counter_ns
from roost.agent._otlp import encode_json
from roost.agent._pb import encode_protobuf

log = logging.getLogger("roost.agent")


def _parse_headers(raw: str) -> dict[str, str]:
    headers = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            headers[unquote(key.strip())] = unquote(value.strip())
    return headers


class Agent:
    """Collects finished requests and exports them as OTLP from a background thread.

    Requests never wait on the exporter: when the queue holds ``max_queue`` requests,
    new ones are dropped and counted in ``dropped``.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        headers: dict[str, str] | None = None,
        service_name: str | None = None,
        *,
        protocol: str | None = None,
        max_queue: int = 4096,
        batch_size: int = 512,
        interval: float = 2.0,
        timeout: float = 5.0,
        gzip: bool | None = None,
        enabled: bool | None = None,
    ) -> None:
        env = os.environ
        traces_url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        if endpoint is None and traces_url:
            self.url = traces_url
        else:
            base = endpoint or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318"
            self.url = base.rstrip("/") + "/v1/traces"
        self.headers = dict(headers) if headers is not None else _parse_headers(
            env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS")
            or "")
        self.service_name = service_name or env.get("OTEL_SERVICE_NAME") or "unknown_service"
        self.enabled = (env.get("OTEL_SDK_DISABLED", "").lower() != "true"
                        if enabled is None else enabled)
        self.gzip = (env.get("OTEL_EXPORTER_OTLP_COMPRESSION") == "gzip") if gzip is None else gzip
        protocol = protocol or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
        as_json = protocol == "http/json"
        self._encode: Callable[[list[Trace], str], bytes] = (
            encode_json if as_json else encode_protobuf)
        self.content_type = "application/json" if as_json else "application/x-protobuf"
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.interval = interval
        self.timeout = timeout
        self.dropped = 0
        self.exported = 0
        self.failures = 0
        self._queue: deque[Trace] = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._backoff_until = 0.0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    # -- hot path ------------------------------------------------------------------

    def begin(self, method: str, path: str, traceparent: str | None = None) -> Trace:
        """Start timing a request."""
        return Trace(method, path, traceparent)

    def end(self, trace: Trace) -> None:
        """Finish a request and queue it for export; never blocks."""
        trace.end = perf_counter_ns()
        queue = self._queue
        if len(queue) >= self.max_queue:
            self.dropped += 1
            return
        queue.append(trace)
        if self._thread is None:
            self._start()
        elif len(queue) == self.batch_size:
            self._wake.set()

    # -- exporter thread -----------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="roost-agent",
                                                daemon=True)
                self._thread.start()

    def _after_fork(self) -> None:
        # Threads do not survive fork: the child starts its own on first use.
        self._thread = None
        self._conn = None
        self._queue.clear()
        self._lock = threading.Lock()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            self._idle.clear()
            batch: list[Trace] = []
            try:
                while len(batch) < self.batch_size:
                    batch.append(queue.popleft())
            except IndexError:
                pass
            if time.monotonic() < self._backoff_until:
                self.dropped += len(batch)
                continue
            try:
                self._send(self._encode(batch, self.service_name))
                self.exported += len(batch)
            except Exception as exc:  # never let export faults reach the app
                self.failures += 1
                self.dropped += len(batch)
                self._backoff_until = time.monotonic() + min(30.0, 2.0 ** min(self.failures, 5))
                log.debug("roost.agent export failed: %s", exc)
        self._idle.set()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            parts = urlsplit(self.url)
            cls = (http.client.HTTPSConnection if parts.scheme == "https"
                   else http.client.HTTPConnection)
            self._conn = cls(parts.hostname or "localhost", parts.port, timeout=self.timeout)
        return self._conn

    def _send(self, body: bytes) -> None:
        headers = {"Content-Type": self.content_type, **self.headers}
        if self.gzip:
            body = zlib.compress(body, wbits=31)
            headers["Content-Encoding"] = "gzip"
        path = urlsplit(self.url).path or "/v1/traces"
        for attempt in (0, 1):  # one retry on a stale keep-alive connection
            conn = self._connection()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                self._conn = None
                if attempt:
                    raise
        if response.status >= 300:
            raise OSError(f"OTLP endpoint answered {response.status}")
        self.failures = 0

    def flush(self, timeout: float = 5.0) -> bool:
        """Export everything queued now (tests, shutdown); True if the queue drained."""
        deadline = time.monotonic() + timeout
        self._backoff_until = 0.0
        if self._thread is None and self._queue:
            self._start()
        while time.monotonic() < deadline:
            if not self._queue and self._idle.wait(0.01):
                return True
            self._wake.set()
            time.sleep(0.002)  # let the exporter thread hold the GIL
        return False

    def stats(self) -> dict[str, Any]:
        """Counters of exported, dropped and queued requests."""
        return {"exported": self.exported, "dropped": self.dropped, "queued": len(self._queue),
                "failures": self.failures}

"""In-memory aggregation of requests into per-minute buckets, flushed to the store in batches.

The receiver only decodes and enqueues; a worker thread assembles traces, folds each
request into a bucket and writes every few seconds, so ingest cost per span stays small.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from roost.monitor.perf.names import OVERFLOW_ENDPOINT
from roost.monitor.perf.otlp import Span
from roost.monitor.perf.sketch import Sketch, new_sketch
from roost.monitor.perf.traces import Request, Thresholds, TraceAssembler, analyse

log = logging.getLogger(__name__)

MAX_PIECES = 200  # distinct span fingerprints kept per endpoint-minute


@dataclass
class Settings:
    """Tunables of aggregation; the defaults suit production."""

    max_endpoints: int = 500
    max_queue_spans: int = 200_000
    random_samples: int = 3
    max_age_s: float = 86_400.0
    thresholds: Thresholds = field(default_factory=Thresholds)


class Bucket:
    """Requests to one endpoint in one minute."""

    __slots__ = ("count", "errors", "total_ms", "sketch")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.total_ms = 0.0
        self.sketch: Sketch = new_sketch()


class SampleSlot:
    """Candidate sample traces of one endpoint-hour gathered since the last flush."""

    __slots__ = ("slowest", "randoms")

    def __init__(self) -> None:
        self.slowest: Request | None = None
        self.randoms: list[Request] = []


@dataclass
class Hit:
    """Occurrences of one per-trace finding (N+1 or slow query) since the last flush."""

    summary: str
    detail: dict[str, object]
    occurrences: int = 0


@dataclass
class Snapshot:
    """Everything aggregated since the last flush; keys use epoch seconds of the bucket."""

    buckets: dict[tuple[str, str, int], Bucket] = field(default_factory=dict)
    pieces: dict[tuple[str, str, int, str], list[object]] = field(default_factory=dict)
    samples: dict[tuple[str, str, int], SampleSlot] = field(default_factory=dict)
    hits: dict[tuple[str, str, str, str], Hit] = field(default_factory=dict)
    seen: dict[tuple[str, str, int], int] = field(default_factory=dict)


class Aggregator:
    """Queue, trace assembly and in-memory buckets for every app's requests."""

    def __init__(
        self,
        settings: Settings | None = None,
        known_endpoints: Callable[[str], set[str]] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._known_loader = known_endpoints
        self._queue: deque[tuple[str, list[Span]]] = deque()
        self._queued_spans = 0
        self._per_app: dict[str, int] = {}
        self._lock = threading.Lock()
        self._work_lock = threading.Lock()
        self._assembler = TraceAssembler()
        self._snap = Snapshot()
        self._known: dict[str, set[str]] = {}
        # Requests seen per endpoint-hour, for reservoir sampling across flushes.
        self._seen: dict[tuple[str, str, int], int] = {}
        self._rng = random.Random()
        self.requests = 0
        self.spans = 0

    # -- receiving side (event loop) -------------------------------------------------

    def submit(self, app: str, spans: list[Span]) -> str | None:
        """Queue ``spans`` of ``app``; return None, or "app" / "full" when over capacity."""
        n = len(spans)
        limit = self.settings.max_queue_spans
        with self._lock:
            if self._queued_spans + n > limit:
                return "full"
            # One noisy app may hold at most half of the queue, so others still get in.
            if self._per_app.get(app, 0) + n > limit // 2 and self._queued_spans > 0:
                return "app"
            self._queue.append((app, spans))
            self._queued_spans += n
            self._per_app[app] = self._per_app.get(app, 0) + n
        return None

    @property
    def queued_spans(self) -> int:
        """Spans received but not yet aggregated."""
        return self._queued_spans

    # -- worker side -----------------------------------------------------------------

    def process(self, now: float | None = None) -> int:
        """Aggregate every queued batch; return how many spans were processed."""
        done = 0
        with self._work_lock:
            while True:
                with self._lock:
                    if not self._queue:
                        break
                    app, spans = self._queue.popleft()
                    self._queued_spans -= len(spans)
                    self._per_app[app] -= len(spans)
                    if not self._per_app[app]:
                        del self._per_app[app]
                self._ingest(app, spans, time.time() if now is None else now)
                done += len(spans)
            self._assembler.expire()
        self.spans += done
        return done

    def take(self) -> Snapshot:
        """Hand over the aggregates gathered so far and start afresh."""
        with self._work_lock:
            snap, self._snap = self._snap, Snapshot()
            snap.seen = dict(self._seen)
            cutoff = int(time.time()) // 3600 * 3600 - 7200
            self._seen = {k: v for k, v in self._seen.items() if k[2] >= cutoff}
        return snap

    def _endpoint(self, app: str, endpoint: str) -> str:
        known = self._known.get(app)
        if known is None:
            known = set(self._known_loader(app)) if self._known_loader else set()
            self._known[app] = known
        if endpoint in known:
            return endpoint
        if len(known) >= self.settings.max_endpoints:
            return OVERFLOW_ENDPOINT
        known.add(endpoint)
        return endpoint

    def _ingest(self, app: str, spans: list[Span], now: float) -> None:
        limits = self.settings.thresholds
        for root, tree in self._assembler.add(app, spans):
            start_s = root.start / 1e9
            if start_s < now - self.settings.max_age_s:
                continue
            self._add(analyse(app, root, tree, limits), min(start_s, now))

    def _add(self, request: Request, start_s: float) -> None:
        snap = self._snap
        app = request.app
        endpoint = request.endpoint = self._endpoint(app, request.endpoint)
        minute = int(start_s) // 60 * 60
        key = (app, endpoint, minute)
        bucket = snap.buckets.get(key)
        if bucket is None:
            bucket = snap.buckets[key] = Bucket()
        bucket.count += 1
        bucket.errors += request.error
        bucket.total_ms += request.duration_ms
        bucket.sketch.add(request.duration_ms)
        self.requests += 1

        pieces = snap.pieces
        for fp, piece in request.pieces.items():
            pkey = (app, endpoint, minute, fp)
            have = pieces.get(pkey)
            if have is None:
                if len(pieces) > MAX_PIECES * max(1, len(snap.buckets)):
                    continue  # a pathological app with endless distinct spans
                pieces[pkey] = list(piece)
            else:
                have[2] += piece[2]  # type: ignore[operator]
                have[3] += piece[3]  # type: ignore[operator]
                have[4] += piece[4]  # type: ignore[operator]

        self._sample(request, (app, endpoint, minute // 3600 * 3600))
        for fp, label, repeats, total in request.n_plus_one:
            self._hit(request, "n_plus_one", fp,
                      f"N+1 query on {endpoint}: {repeats}× `{label[:120]}` ({total:.0f} ms)",
                      {"query": label, "repeats": repeats, "total_ms": round(total, 1)})
        for fp, label, ms in request.slow_queries:
            self._hit(request, "slow_query", fp,
                      f"Slow query on {endpoint}: `{label[:120]}` took {ms:.0f} ms",
                      {"query": label, "ms": round(ms, 1)})

    def _hit(self, request: Request, kind: str, fp: str, summary: str,
             detail: dict[str, object]) -> None:
        key = (request.app, kind, request.endpoint, fp)
        hit = self._snap.hits.get(key)
        if hit is None:
            detail["trace_id"] = request.root.trace_id.hex()
            hit = self._snap.hits[key] = Hit(summary, detail)
        hit.occurrences += 1

    def _sample(self, request: Request, key: tuple[str, str, int]) -> None:
        slot = self._snap.samples.get(key)
        if slot is None:
            slot = self._snap.samples[key] = SampleSlot()
        if slot.slowest is None or request.duration_ms > slot.slowest.duration_ms:
            slot.slowest = request
        seen = self._seen.get(key, 0) + 1
        self._seen[key] = seen
        k = self.settings.random_samples
        if len(slot.randoms) < k and seen <= k:
            slot.randoms.append(request)
        elif self._rng.random() * seen < k:  # reservoir sampling over the whole hour
            if len(slot.randoms) < k:
                slot.randoms.append(request)
            else:
                slot.randoms[self._rng.randrange(k)] = request


class Worker:
    """Runs an :class:`Aggregator` in a thread: aggregate often, ``flush`` every ``interval``."""

    def __init__(self, aggregator: Aggregator, flush: Callable[[], object], *,
                 interval: float = 5.0) -> None:
        self.aggregator = aggregator
        self.flush = flush
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="roost-perf", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self) -> None:
        """Flush what is left and stop."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        next_flush = time.monotonic() + self.interval
        while not self._stop.is_set():
            self.aggregator.process()
            if time.monotonic() >= next_flush:
                next_flush = time.monotonic() + self.interval
                self._safe_flush()
            self._stop.wait(0.02)
        self._safe_flush()

    def _safe_flush(self) -> None:
        try:
            self.flush()
        except Exception:  # a store outage must not kill ingest; the batch is lost, not the loop
            log.exception("perf flush failed")

"""Assembling spans into requests, and what one request says: endpoint, breakdown, N+1."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

from roost.monitor.perf.names import SERVER, category_of, endpoint_name, span_label
from roost.monitor.perf.otlp import Span
from roost.monitor.perf.sqlnorm import fingerprint


@dataclass(frozen=True)
class Thresholds:
    """Limits for per-trace findings."""

    n_plus_one_min_count: int = 5
    n_plus_one_min_ms: float = 50.0
    slow_query_ms: float = 500.0


@dataclass
class Request:
    """One finished request: its root SERVER span, all spans below it and what they cost."""

    app: str
    root: Span
    spans: list[Span]
    endpoint: str
    duration_ms: float
    error: bool
    # fingerprint -> [category, label, count, total_ms, self_ms]
    pieces: dict[str, list[object]] = field(default_factory=dict)
    # (fingerprint, label, repeats, total_ms) for each N+1 found
    n_plus_one: list[tuple[str, str, int, float]] = field(default_factory=list)
    # (fingerprint, label, ms) for each slow query found
    slow_queries: list[tuple[str, str, float]] = field(default_factory=list)


fingerprint_cached = lru_cache(maxsize=16384)(fingerprint)


def _is_error(span: Span) -> bool:
    if span.error:
        return True
    status = span.attrs.get("http.response.status_code", span.attrs.get("http.status_code"))
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    return isinstance(status, int) and status >= 500


def analyse(app: str, root: Span, spans: list[Span], limits: Thresholds) -> Request:
    """Summarise one request tree (``spans`` includes ``root``)."""
    child_ms: dict[bytes, float] = {}
    for s in spans:
        if s is not root:
            child_ms[s.parent_id] = child_ms.get(s.parent_id, 0.0) + (s.end - s.start) / 1e6
    endpoint = endpoint_name(root.attrs, root.name)
    request = Request(app, root, spans, endpoint, root.duration_ms, _is_error(root))
    pieces = request.pieces
    repeats: dict[tuple[bytes, str], list[float]] = {}
    labels: dict[str, str] = {}
    for s in spans:
        is_root = s is root
        category = category_of(s.attrs, s.kind, s.name, is_root)
        label = endpoint if is_root else span_label(s.attrs, category, s.name)
        fp = fingerprint_cached(category, label)
        ms = (s.end - s.start) / 1e6
        self_ms = max(0.0, ms - child_ms.get(s.span_id, 0.0))
        piece = pieces.get(fp)
        if piece is None:
            pieces[fp] = [category, label, 1, ms, self_ms]
        else:
            piece[2] += 1  # type: ignore[operator]
            piece[3] += ms  # type: ignore[operator]
            piece[4] += self_ms  # type: ignore[operator]
        if category == "db":
            labels[fp] = label
            group = repeats.get((s.parent_id, fp))
            if group is None:
                repeats[(s.parent_id, fp)] = [1, ms]
            else:
                group[0] += 1
                group[1] += ms
            if ms >= limits.slow_query_ms:
                request.slow_queries.append((fp, label, ms))
    for (_parent, fp), (count, total) in repeats.items():
        if count >= limits.n_plus_one_min_count and total >= limits.n_plus_one_min_ms:
            request.n_plus_one.append((fp, labels[fp], int(count), total))
    return request


class _Pending:
    __slots__ = ("spans", "since")

    def __init__(self, since: float) -> None:
        self.spans: list[Span] = []
        self.since = since


class TraceAssembler:
    """Collects spans per trace until the local root SERVER span arrives.

    Children end before their parent, so exporters send them in the same batch as the
    root or an earlier one. Spans whose root never comes are dropped after ``ttl``.
    """

    def __init__(self, ttl: float = 30.0, max_pending_spans: int = 200_000) -> None:
        self.ttl = ttl
        self.max_pending_spans = max_pending_spans
        self.pending: dict[tuple[str, bytes], _Pending] = {}
        self.pending_spans = 0
        self.dropped = 0

    def add(self, app: str, spans: list[Span]) -> list[tuple[Span, list[Span]]]:
        """Take one batch of ``app``'s spans; return each completed (root, tree)."""
        by_trace: dict[bytes, list[Span]] = {}
        for s in spans:
            group = by_trace.get(s.trace_id)
            if group is None:
                by_trace[s.trace_id] = [s]
            else:
                group.append(s)
        done: list[tuple[Span, list[Span]]] = []
        now = time.monotonic()
        for trace_id, group in by_trace.items():
            earlier = self.pending.pop((app, trace_id), None)
            if earlier is not None:
                self.pending_spans -= len(earlier.spans)
                group = earlier.spans + group
            if len(group) == 1:  # the common case of a request without child spans
                only = group[0]
                if only.kind == SERVER:
                    done.append((only, group))
                    continue
            ids = {s.span_id for s in group}
            roots = [s for s in group if s.kind == SERVER and s.parent_id not in ids]
            if not roots:
                self._hold(app, trace_id, group, earlier.since if earlier else now)
                continue
            children: dict[bytes, list[Span]] = {}
            for s in group:
                children.setdefault(s.parent_id, []).append(s)
            for root in roots:
                tree = [root]
                stack = [root.span_id]
                while stack:
                    for child in children.get(stack.pop(), ()):
                        tree.append(child)
                        stack.append(child.span_id)
                done.append((root, tree))
        return done

    def _hold(self, app: str, trace_id: bytes, spans: list[Span], since: float) -> None:
        if self.pending_spans + len(spans) > self.max_pending_spans:
            self.expire(time.monotonic() + self.ttl)  # full: make room by dropping all
        pending = _Pending(since)
        pending.spans = spans
        self.pending[(app, trace_id)] = pending
        self.pending_spans += len(spans)

    def expire(self, now: float | None = None) -> int:
        """Drop traces whose root has not arrived within ``ttl``; return spans dropped."""
        now = time.monotonic() if now is None else now
        stale = [k for k, p in self.pending.items() if now - p.since >= self.ttl]
        dropped = 0
        for key in stale:
            dropped += len(self.pending.pop(key).spans)
        self.pending_spans -= dropped
        self.dropped += dropped
        return dropped

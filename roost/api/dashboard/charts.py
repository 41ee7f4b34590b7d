"""Tiny server-side SVG charts for the dashboard (no JavaScript needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from markupsafe import Markup

from roost.api.dashboard.format import latency


def latency_chart(points: list[tuple[datetime, float]], markers: list[tuple[datetime, str]],
                  width: int = 720, height: int = 180, start: datetime | None = None,
                  end: datetime | None = None) -> Markup:
    """A p95 line over ``start``..``end`` (default: the points' own span), a dot per point,
    and a dashed vertical line per deploy inside that window."""
    if not points:
        return Markup('<p class="muted">No traffic in this range.</p>')
    t0 = (start or min(p[0] for p in points)).timestamp()
    t1 = (end or max(p[0] for p in points)).timestamp()
    span = max(t1 - t0, 60.0)
    top = max(v for _, v in points) * 1.1 or 1.0
    pad = 30

    def x(t: datetime) -> float:
        return pad + (t.timestamp() - t0) / span * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - v / top * (height - 2 * pad)

    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="p95 latency">',
             f'<text x="2" y="{pad - 14}" font-size="11">{escape(latency(top))}</text>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
             'stroke="#ccc"/>',
             f'<polyline fill="none" stroke="#3366cc" stroke-width="2" points="{line}"/>']
    if len(points) <= 120:
        parts.extend(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="#3366cc">'
                     f'<title>{t:%Y-%m-%d %H:%M} UTC: {escape(latency(v))}</title></circle>'
                     for t, v in points)
    for at, label in markers:
        if not t0 <= at.timestamp() <= t0 + span:
            continue
        parts.append(f'<line x1="{x(at):.1f}" y1="{pad - 4}" x2="{x(at):.1f}" '
                     f'y2="{height - pad}" stroke="#c60" stroke-dasharray="4 3"/>'
                     f'<text x="{x(at) + 3:.1f}" y="{pad + 6}" font-size="11" fill="#c60">'
                     f'{escape(label)}</text>')
    parts.append(f'<text x="{pad}" y="{height - 10}" font-size="11" fill="#777">'
                 f'{datetime.fromtimestamp(t0, UTC):%Y-%m-%d %H:%M} UTC</text>'
                 f'<text x="{width - pad}" y="{height - 10}" font-size="11" fill="#777" '
                 f'text-anchor="end">{datetime.fromtimestamp(t0 + span, UTC):%Y-%m-%d %H:%M}'
                 ' UTC</text></svg>')
    return Markup("".join(parts))


def _category(span: dict[str, Any]) -> str:
    attrs = span.get("attrs") or {}
    if "db.system" in attrs or "db.statement" in attrs or "db.query.text" in attrs:
        return "db"
    if span.get("kind") == 3:  # CLIENT
        return "http"
    return "app"


def timeline(spans: list[dict[str, Any]], width: int = 720) -> Markup:
    """A trace as horizontal bars: one row per span, offset by its start."""
    if not spans:
        return Markup('<p class="muted">This trace has no spans.</p>')
    t0 = min(int(s["start_ns"]) for s in spans)
    t1 = max(int(s["end_ns"]) for s in spans)
    total = max(t1 - t0, 1)
    colours = {"db": "#d9822b", "http": "#7a5cc2", "app": "#3366cc"}
    rows = []
    for s in sorted(spans, key=lambda sp: int(sp["start_ns"])):
        start, end = int(s["start_ns"]), int(s["end_ns"])
        left = (start - t0) / total * 100
        w = max((end - start) / total * 100, 0.3)
        attrs = s.get("attrs") or {}
        label = escape(str(attrs.get("db.statement") or s.get("name", ""))[:120])
        rows.append(
            '<div style="position:relative;height:18px;font-size:11px">'
            f'<div title="{label}" style="position:absolute;left:{left:.2f}%;width:{w:.2f}%;'
            f'height:14px;background:{colours[_category(s)]}"></div>'
            f'<span style="position:absolute;left:{min(left + w, 75):.2f}%;padding-left:4px">'
            f'{label} ({latency((end - start) / 1e6)})</span></div>')
    return Markup(f'<div style="width:{width}px">' + "".join(rows) + "</div>")

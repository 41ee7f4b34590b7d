"""How the dashboard shows numbers and times: latencies with useful precision, times as
``<time>`` elements that the page's script turns into the viewer's timezone (UTC on hover)."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape


def latency(ms: float | None) -> str:
    """``850 µs``, ``4.2 ms``, ``120 ms``, ``1.25 s``: never ``0 ms`` for a fast endpoint."""
    if ms is None:
        return "–"
    if ms < 1:
        return f"{ms * 1000:.3g} µs" if ms > 0 else "0 µs"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.3g} s"


def when(at: datetime | str | None, empty: str = "never") -> Markup:
    """A time as ``<time>``: UTC text and title; the script shows it in local time."""
    if at is None or at == "":
        return Markup('<span class="muted">{}</span>').format(empty)
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    iso = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = at.strftime("%Y-%m-%d %H:%M UTC")
    title = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(f'<time datetime="{iso}" title="{title}">{escape(text)}</time>')


def size(n: int | None) -> str:
    """Bytes as ``12.3 MB``."""
    if n is None:
        return "–"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def seconds(s: float | None) -> str:
    """A duration as ``42 s``, ``3 min``, ``5 h``, ``2 d``."""
    if s is None:
        return "–"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 86_400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86_400:.1f} d"


def install(env: object) -> None:
    """Register the filters on a Jinja environment."""
    filters = env.filters  # type: ignore[attr-defined]
    filters.update({"latency": latency, "when": when, "size": size, "seconds": seconds})

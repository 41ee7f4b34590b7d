"""Endpoint names and span categories derived from OpenTelemetry attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from roost.monitor.perf.sqlnorm import normalise_sql

OVERFLOW_ENDPOINT = "(other endpoints)"
CATEGORIES = ("app", "db", "http", "view", "other")

_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_HEX = re.compile(r"^(?=.*\d)[0-9a-f]{8,}$", re.I)
_NUMERIC = re.compile(r"^[-+]?\d+(?:[.,]\d+)?$")
_MIXED_ID = re.compile(r"^(?=.*\d)[\w-]{16,}$")  # long tokens with digits: slugs, hashes

SERVER = 2
CLIENT = 3


@lru_cache(maxsize=8192)
def normalise_path(path: str) -> str:
    """``path`` without query and with numbers, uuids and hex ids replaced by ``:id``."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    if "://" in path:  # a full URL given as the target
        rest = path.split("://", 1)[1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    parts = []
    for part in path.split("/"):
        if part and (
            _NUMERIC.match(part) or _UUID.match(part) or _HEX.match(part) or _MIXED_ID.match(part)
        ):
            parts.append(":id")
        else:
            parts.append(part)
    return "/".join(parts)[:300]


def endpoint_name(attrs: Mapping[str, object], span_name: str) -> str:
    """The endpoint of a root SERVER span: ``METHOD route``, else ``METHOD /normalised/path``."""
    method = attrs.get("http.request.method") or attrs.get("http.method") or ""
    route = attrs.get("http.route")
    if isinstance(route, str) and route:
        name = route
    else:
        path = attrs.get("url.path") or attrs.get("http.target")
        if not isinstance(path, str) or not path:
            url = attrs.get("url.full") or attrs.get("http.url")
            path = url if isinstance(url, str) and url else ""
        if not path:
            return span_name[:300] or "(unnamed)"
        name = normalise_path(path)
    return f"{method} {name}"[:300] if method else name[:300]


def category_of(attrs: Mapping[str, object], kind: int, name: str, is_root: bool) -> str:
    """Which bar of the breakdown a span belongs to: app, db, http, view or other."""
    explicit = attrs.get("roost.category")
    if isinstance(explicit, str) and explicit in CATEGORIES:
        return explicit
    if "db.system" in attrs or "db.statement" in attrs or "db.query.text" in attrs:
        return "db"
    if kind == CLIENT and (
        "http.method" in attrs or "http.request.method" in attrs or "url.full" in attrs
    ):
        return "http"
    lowered = name.lower()
    if "render" in lowered or "template" in lowered:
        return "view"
    if is_root or kind in (0, 1, SERVER):
        return "app"
    return "other"


def span_label(attrs: Mapping[str, object], category: str, name: str) -> str:
    """What the breakdown shows for a span: normalised SQL, ``METHOD host`` or the span name."""
    if category == "db":
        sql = attrs.get("db.statement") or attrs.get("db.query.text")
        if isinstance(sql, str) and sql:
            return normalise_sql(sql)[:1000]
        return name[:1000]
    if category == "http":
        method = attrs.get("http.request.method") or attrs.get("http.method") or ""
        host = attrs.get("server.address") or attrs.get("net.peer.name")
        if not host:
            url = attrs.get("url.full") or attrs.get("http.url")
            if isinstance(url, str) and "://" in url:
                host = url.split("://", 1)[1].split("/", 1)[0]
        return f"{method} {host or name}".strip()[:1000]
    return name[:1000]

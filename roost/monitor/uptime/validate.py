"""Checking monitor settings, with messages that say how to fix them."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from roost.errors import InvalidInput

KINDS = ("http", "tcp", "tls", "postgres")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MIN_INTERVAL_S = 10.0


def kind(value: str) -> str:
    """A known check kind."""
    value = value.lower().strip()
    if value not in KINDS:
        raise InvalidInput(f"unknown monitor kind {value!r}; use one of {', '.join(KINDS)}")
    return value


def target(kind: str, value: str) -> str:
    """An http(s) URL for HTTP checks, HOST:PORT (or an https URL) for TCP and TLS, a
    postgres:// URL for PostgreSQL checks."""
    value = value.strip()
    if kind == "http":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"--url must be an http:// or https:// URL, got {value!r}")
        try:
            _ = parts.port
        except ValueError as exc:
            raise InvalidInput(f"--url has a bad port: {value!r}") from exc
        return value
    if kind == "postgres":
        return postgres_target(value)
    if kind == "tls" and value.startswith("https://"):
        parts = urlsplit(value)
        if not parts.hostname:
            raise InvalidInput(f"no host name in {value!r}")
        return f"{parts.hostname}:{parts.port or 443}"
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"a {kind} monitor needs HOST:PORT (e.g. db.example.com:5432), "
                           f"got {value!r}")
    return value


PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def postgres_target(value: str) -> str:
    """``postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=M]``, checked for its parts.

    One host, no socket paths, and no other connection parameters: libpq would otherwise
    read files of the platform's (a passfile, a service file, client keys) for whoever
    adds a monitor."""
    parts = urlsplit(value)
    try:
        port = parts.port if "," not in parts.netloc else None
    except ValueError as exc:
        raise InvalidInput("a postgres monitor's URL has a bad port") from exc
    host = parts.hostname or ""
    if (parts.scheme not in ("postgres", "postgresql") or not host or "," in parts.netloc
            or "%" in host or "/" in host or not parts.username or parts.password is None
            or not parts.path.strip("/") or port == 0):
        raise InvalidInput("a postgres monitor needs postgres://USER:PASSWORD@HOST:PORT/DATABASE")
    query = parse_qs(parts.query, keep_blank_values=True)
    if set(query) - {"sslmode"} or any(v not in PG_SSLMODES for v in query.get("sslmode", [])):
        raise InvalidInput(f"a postgres monitor's URL takes no parameters but sslmode (one of "
                           f"{', '.join(PG_SSLMODES)}), got {parts.query!r}")
    return value


def name(value: str) -> str:
    """A display name: one line of at most 100 characters (empty: derived from the host)."""
    value = value.strip()
    if len(value) > 100:
        raise InvalidInput(f"--name must be at most 100 characters, got {len(value)}")
    if any(not ch.isprintable() for ch in value):
        raise InvalidInput("--name must be one line of printable characters")
    return value


def method(value: str) -> str:
    """An HTTP method."""
    value = value.upper().strip()
    if value not in METHODS:
        raise InvalidInput(f"unknown HTTP method {value!r}; use one of {', '.join(METHODS)}")
    return value


def expected_status(value: str | list[int] | None) -> list[int]:
    """Status codes from a list or a spec like ``200-299,304``; empty means 200-399."""
    if value is None or value == "" or value == []:
        return []
    codes: list[int] = []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    for item in items:
        lo, dash, hi = item.strip().partition("-")
        try:
            start, end = int(lo), int(hi) if dash else int(lo)
        except ValueError as exc:
            raise InvalidInput(f"bad status code {item!r}: use codes like 200,204 or 200-299")\
                from exc
        if not 100 <= start <= end <= 599:
            raise InvalidInput(f"status codes must be within 100-599, got {item.strip()!r}")
        codes.extend(range(start, end + 1))
    return sorted(set(codes))


def headers(value: dict[str, str] | None) -> dict[str, str]:
    """Request headers without line breaks."""
    out: dict[str, str] = {}
    for name, val in (value or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            raise InvalidInput(f"bad header name {name!r}")
        if "\n" in val or "\r" in val:
            raise InvalidInput(f"header {name} must not contain line breaks")
        out[name] = val
    return out


def regex(value: str | None) -> str | None:
    """A regular expression that compiles."""
    if not value:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise InvalidInput(f"--body-regex {value!r} does not compile: {exc}") from exc
    return value


def timing(interval_s: float, timeout_s: float, min_interval_s: float) -> None:
    """The interval is at least the minimum; the timeout fits within it."""
    if interval_s < min_interval_s:
        raise InvalidInput(f"--interval must be at least {min_interval_s:g} s, got {interval_s:g}")
    if interval_s > 86400:
        raise InvalidInput("--interval must be at most one day (86400 s)")
    if not 0 < timeout_s <= interval_s:
        raise InvalidInput(f"--timeout must be above 0 and at most the interval "
                           f"({interval_s:g} s), got {timeout_s:g}")


def count(name: str, value: int) -> int:
    """A confirmation count between 1 and 10."""
    if not 1 <= value <= 10:
        raise InvalidInput(f"{name} must be between 1 and 10, got {value}")
    return value

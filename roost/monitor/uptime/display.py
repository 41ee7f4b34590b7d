"""What the public status page may say about a monitor: a name, never its target.

A monitor's URL can carry credentials (``https://user:pass@host``), tokens in its query
string or secret paths; the status page is public, so it shows the host name only, and
incident causes are cleaned of any URL or target before they are shown.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from roost.monitor.uptime.specs import MonitorView

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_KIND = {"tcp": "TCP", "tls": "TLS certificate", "postgres": "PostgreSQL"}


def host_of(kind: str, target: str) -> str:
    """The host name of a monitor target, without credentials, port, path or query."""
    if kind in ("http", "postgres") or "://" in target:
        try:
            return urlsplit(target).hostname or ""
        except ValueError:
            return ""
    host = target.rpartition(":")[0] if ":" in target else target
    return host.rpartition("@")[2].strip("[]").lower()


def redact(kind: str, target: str) -> str:
    """A target as the API may show it: a postgres:// URL's password becomes ``***``."""
    if kind != "postgres":
        return target
    parts = urlsplit(target)
    if parts.password is None:
        return target
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()


def display_name(monitor: MonitorView) -> str:
    """A public name: its own, "Website" for the app's monitor, else its host (and kind)."""
    if monitor.name:
        return monitor.name
    if monitor.owner == "app":
        return "Website"
    host = host_of(monitor.kind, monitor.target) or "web"
    return f"{host} ({_KIND[monitor.kind]})" if monitor.kind in _KIND else host


def scrub(text: str, targets: list[str]) -> str:
    """``text`` with every monitor target and every URL in it replaced by a placeholder."""
    for target in sorted(targets, key=len, reverse=True):
        if target:
            text = text.replace(target, "[target]")
    return _URL.sub("[url]", text)

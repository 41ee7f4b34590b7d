"""Automatic uptime monitors: every app with a web process is watched on its router URL."""

from __future__ import annotations

from roost.core import apps, releases
from roost.monitor.uptime import monitors
from roost.orchestration.platform import Platform


def router_target(platform: Platform, app: str, path: str = "/") -> tuple[str, dict[str, str]]:
    """The URL that reaches ``app`` through this platform's router, and its Host header.

    ``*.localhost`` resolves in browsers, not in every resolver: dial the router itself and
    name the app in the Host header.
    """
    s = platform.settings
    host, _, port = s.router_listen.rpartition(":")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{port}{path}", {"Host": f"{app}.{s.base_domain}"}


def ensure_app_monitor(platform: Platform, app: str) -> bool:
    """Give ``app`` a monitor on its health path when it serves web; True when one was added."""
    runtime = platform.runtime
    if runtime is None:
        return False
    with platform.sessions.begin() as session:
        found = apps.get(session, app)
        current = releases.current(session, found)
        if current is None or "web" not in current.process_types:
            return False
        if any(m.owner == "app" for m in monitors.list_monitors(session, app)):
            return False
        path = runtime.health_path(app)
        url, headers = router_target(platform, app, path or "/")
        monitors.create(session, app, url, headers=headers, owner="app",
                        interval_s=platform.settings.app_monitor_interval_seconds)
    return True

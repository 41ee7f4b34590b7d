"""A small WSGI app for Roost's quick start: a page, a health check and static files."""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Callable, Iterable
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
PAGE = """<!doctype html>
<html><head><title>Roost example</title><link rel="stylesheet" href="{css}"></head>
<body><h1>Hello from Roost</h1><p>Release {release}</p><script src="{js}"></script>
</body></html>
"""


def load_manifest() -> dict[str, str]:
    """Logical path -> URL of the assets Roost published (empty outside Roost)."""
    path = os.environ.get("ROOST_ASSET_MANIFEST")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            return dict(json.load(fh)["files"])
    except (OSError, ValueError, KeyError):
        return {}


ASSETS = load_manifest()


def asset(logical: str) -> str:
    """The URL of a static file: on the asset host when published, else served here."""
    return ASSETS.get(logical, "/static/" + logical)

StartResponse = Callable[[str, list[tuple[str, str]]], object]


def app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """Route ``/``, ``/health`` and ``/static/*``."""
    path = environ.get("PATH_INFO", "/")
    if path == "/health":
        body = json.dumps({"status": "ok"}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path.startswith("/static/"):
        target = (STATIC / path.removeprefix("/static/")).resolve()
        if STATIC in target.parents and target.is_file():
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            start_response("200 OK", [("Content-Type", ctype)])
            return [target.read_bytes()]
    if path == "/":
        body = PAGE.format(release=os.environ.get("ROOST_RELEASE", "dev"), css=asset("app.css"),
                           js=asset("app.js")).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


try:  # Roost's Python buildpack installs its agent; it reports traces to Roost's perf monitor.
    from roost.agent import WSGIMiddleware
except ImportError:  # run outside Roost: no tracing
    pass
else:
    app = WSGIMiddleware(app)  # type: ignore[assignment]

"""The asset host served by a real Caddy from a file store, with the route from roost.assets."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli
import httpx
import pytest

from roost.assets import publish
from roost.assets.names import IMMUTABLE
from roost.assets.serve import asset_base_url, caddy_asset_routes
from roost.objectstore import open_store
from roost.objectstore.file import FileStore
from tests.conftest import free_port, wait_for

CADDY = Path("/work/main/.venv/bin/caddy")
CSS = b"body { color: #333; margin: 0 auto; }\n" * 400
JS = b"export function hello() { return 'hello world'; }\n" * 300
FONT = bytes(range(256)) * 8


@pytest.fixture
def caddy(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Caddy with an admin API on a free port; yields (admin URL, HTTP port)."""
    admin = free_port()
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    boot = tmp_path / "boot.json"
    boot.write_text(json.dumps({"admin": {"listen": f"127.0.0.1:{admin}"}}))
    proc = subprocess.Popen([str(CADDY), "run", "--config", str(boot)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{admin}"

    def up() -> bool:
        try:
            return httpx.get(url + "/config/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=20)
        yield url, free_port()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path, caddy: tuple[str, int]) -> dict[str, object]:
    """Two apps published to a file store and served through Caddy."""
    admin, port = caddy
    store = open_store(f"file://{tmp_path / 'objects'}")
    assert isinstance(store, FileStore)
    urls = {}
    for app, body in (("shop", CSS), ("blog", b"p { color: blue; }\n" * 500)):
        src = tmp_path / app
        (src / "css").mkdir(parents=True)
        (src / "css" / "app.css").write_bytes(body)
        (src / "app.js").write_bytes(JS)
        (src / "fonts").mkdir()
        (src / "fonts" / "icons.woff2").write_bytes(FONT)
        base = asset_base_url(app, object_store=f"file://{store.root}", base_domain="localhost",
                              router_listen=f"127.0.0.1:{port}")
        urls[app] = publish(store, app, 1, src, base_url=base).manifest.files()
    routes = caddy_asset_routes(store.root, base_domain="localhost",
                                own_origins=["http://{app}.localhost"],
                                extra_origins={"blog": ["https://blog.example"]})
    config = {"admin": {"listen": admin.removeprefix("http://")},
              "apps": {"http": {"servers": {"assets": {
                  "listen": [f"127.0.0.1:{port}"], "routes": routes,
                  "automatic_https": {"disable": True}}}}}}
    resp = httpx.post(admin + "/load", json=config, timeout=10)
    assert resp.status_code == 200, resp.text
    return {"port": port, "urls": urls, "root": store.root}


@dataclass
class Reply:
    """A response with its body exactly as sent."""

    status_code: int
    headers: httpx.Headers
    content: bytes


def _get(url: str, **headers: str) -> Reply:
    """GET ``url`` keeping the body as sent (httpx would decode br/gzip into ``content``)."""
    # The asset host name resolves nowhere here: connect to 127.0.0.1 and send the Host.
    parts = httpx.URL(url)
    with httpx.Client(timeout=5) as client, client.stream(
            "GET", f"http://127.0.0.1:{parts.port}{parts.raw_path.decode()}",
            headers={"Host": f"{parts.host}:{parts.port}", **headers}) as resp:
        raw = b"".join(resp.iter_raw())
    return Reply(resp.status_code, resp.headers, raw)


def _raw(port: int, path: str, *headers: str) -> tuple[int, bytes]:
    """Send a request line as written (clients would normalise ``..`` away)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        extra = "".join(h + "\r\n" for h in headers)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: assets.localhost:{port}\r\n{extra}"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_serves_files_and_precompressed_variants(served: dict[str, object]) -> None:
    urls = served["urls"]
    assert isinstance(urls, dict)
    css_url = urls["shop"]["css/app.css"]
    assert css_url.startswith(f"http://assets.localhost:{served['port']}/shop/css/app.")
    plain = _get(css_url, **{"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.content == CSS
    assert plain.headers["content-type"] == "text/css; charset=utf-8"
    assert plain.headers["cache-control"] == IMMUTABLE
    assert "content-encoding" not in plain.headers
    br = _get(css_url, **{"Accept-Encoding": "gzip, br"})
    assert br.headers["content-encoding"] == "br"
    assert brotli.decompress(br.content) == CSS and len(br.content) < len(CSS) // 10
    assert br.headers["content-type"] == "text/css; charset=utf-8"
    assert br.headers["cache-control"] == IMMUTABLE
    gz = _get(css_url, **{"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip"
    assert gzip.decompress(gz.content) == CSS
    js = _get(urls["shop"]["app.js"], **{"Accept-Encoding": "identity"})
    assert js.content == JS and js.headers["content-type"].startswith("text/javascript")


def test_cors_for_own_origins_and_fonts(served: dict[str, object]) -> None:
    urls = served["urls"]
    assert isinstance(urls, dict)
    css = urls["shop"]["css/app.css"]
    own = _get(css, Origin="http://shop.localhost")
    assert own.headers["access-control-allow-origin"] == "http://shop.localhost"
    assert "access-control-allow-origin" not in _get(css, Origin="http://evil.example").headers
    # Another app's origin, own or custom, is not this app's.
    assert "access-control-allow-origin" not in _get(css, Origin="http://blog.localhost").headers
    assert "access-control-allow-origin" not in _get(css, Origin="https://blog.example").headers
    blog = _get(urls["blog"]["css/app.css"], Origin="https://blog.example")
    assert blog.headers["access-control-allow-origin"] == "https://blog.example"
    font = _get(urls["blog"]["fonts/icons.woff2"], Origin="http://anything.example")
    assert font.status_code == 200 and font.content == FONT
    assert font.headers["access-control-allow-origin"] == "*"
    assert font.headers["content-type"] == "font/woff2"


def test_missing_files_are_plain_404s(served: dict[str, object]) -> None:
    port = served["port"]
    missing = _get(f"http://assets.localhost:{port}/shop/css/nope.css")
    assert missing.status_code == 404
    assert "cache-control" not in missing.headers
    assert _get(f"http://assets.localhost:{port}/nosuchapp/x.css").status_code == 404


def test_no_escape_to_other_apps_or_metadata(served: dict[str, object]) -> None:
    port = served["port"]
    urls = served["urls"]
    root = served["root"]
    assert isinstance(port, int) and isinstance(urls, dict) and isinstance(root, Path)
    blog_key = httpx.URL(urls["blog"]["css/app.css"]).path.removeprefix("/blog/")
    own = ("Origin: http://shop.localhost", "Accept-Encoding: identity")
    assert _raw(port, f"/blog/{blog_key}", *own)[0] == 200
    # Dot segments are resolved before routing (RFC 3986): /shop/../blog/x is /blog/x,
    # served by blog's route with blog's headers, never by shop's with shop's CORS.
    for path in (f"/shop/../blog/{blog_key}", f"/shop/%2e%2e/blog/{blog_key}"):
        status, data = _raw(port, path, *own)
        assert status in (200, 400, 404), (path, status)
        assert b"access-control-allow-origin" not in data.lower()
    meta = next((root / ".roost-meta" / "assets" / "blog" / "css").glob("*.css.json"))
    for path in (f"/shop/..%2fblog/{blog_key}",
                 f"/shop/../../.roost-meta/assets/blog/css/{meta.name}",
                 f"/shop/%2e%2e/%2e%2e/.roost-meta/assets/blog/css/{meta.name}",
                 f"/shop/../../objects/.roost-meta/assets/blog/css/{meta.name}",
                 f"/.roost-meta/assets/blog/css/{meta.name}",
                 f"/blog/../.roost-meta/assets/blog/css/{meta.name}",
                 "/blog/../../", "/blog/", "/blog/css/"):
        status, data = _raw(port, path, *own)
        assert status in (400, 404), (path, status)
        assert b"sha256" not in data and b"color: blue" not in data

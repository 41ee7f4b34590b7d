"""Static assets on deploy: published to the object store, served by the router's asset host."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok
from tests.wheelhouse import EXAMPLES


def via_router(server: Server, url: str, **headers: str) -> httpx.Response:
    parts = urlsplit(url)
    return httpx.get("http://" + server.env["ROOST_ROUTER_LISTEN"] + parts.path,
                     headers={"Host": parts.hostname or "", **headers}, timeout=10)


def test_assets_served_from_asset_host(server: Server, wheelhouse: dict[str, str],
                                       tmp_path: Path) -> None:
    def router_loads() -> int:  # each configuration Caddy loads is a reload of its listener
        return server.log.read_text().count("roost.router: loaded configuration ")

    loads = router_loads()
    assert loads >= 1  # the start-up configuration, counted the same way
    ok(server, "apps", "create", "py")
    ok(server, "config", "set", "py", *(f"{k}={v}" for k, v in wheelhouse.items()))
    deployed = server.roost("deploy", "py", str(EXAMPLES / "python-app"), timeout=300)
    assert deployed.returncode == 0, deployed.stderr
    assert "published 2 new" in deployed.stdout

    page = via_router(server, "http://py.localhost/").text
    css, js = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert urlsplit(css).hostname == "assets.localhost" and re.search(r"app\.[0-9a-f]{10}\.css",
                                                                      css)
    plain = via_router(server, css)
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/css")
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.content == (EXAMPLES / "python-app" / "static" / "app.css").read_bytes()
    squeezed = via_router(server, js, **{"Accept-Encoding": "br"})
    if squeezed.headers.get("content-encoding"):
        assert squeezed.headers["content-encoding"] == "br"
    assert squeezed.status_code == 200
    assert via_router(server, css.replace("/py/", "/py/../other/")).status_code != 200

    usage = json.loads(ok(server, "assets", "py", "--json"))
    assert usage["files"] == 2 and usage["last_published"]
    plan = json.loads(ok(server, "assets", "publish", "py", "--dry-run", "--json"))
    assert plan["new"] == [] and plan["unchanged"] == 2

    # No request for a static file ever reached the app server.
    logs = ok(server, "logs", "py", "-n", "500", "--source", "web")
    assert "/static/" not in logs

    # A new build with a changed stylesheet, then a rollback: old pages keep their files.
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES / "python-app", src)
    (src / "static" / "app.css").write_text(
        "body { color: rebeccapurple; background: url(img/dot.svg); }\n")
    (src / "static" / "img").mkdir()
    (src / "static" / "img" / "dot.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n')
    assert server.roost("deploy", "py", str(src), timeout=300).returncode == 0
    new_css = re.findall(r'href="([^"]+)"', via_router(server, "http://py.localhost/").text)[0]
    assert new_css != css
    # The stylesheet names the image by its published name, which the asset host serves.
    dot = re.search(r"url\((img/dot\.[0-9a-f]{10}\.svg)\)", via_router(server, new_css).text)
    assert dot is not None
    image = via_router(server, urljoin(new_css, dot.group(1)))
    assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"
    ok(server, "rollback", "py", "v1")
    back = re.findall(r'href="([^"]+)"', via_router(server, "http://py.localhost/").text)[0]
    assert back == css and via_router(server, css).status_code == 200
    dry = json.loads(ok(server, "assets", "gc", "py", "--dry-run", "--json"))
    assert dry["deleted"] == []  # everything is recent and referenced
    # A new app, its deploys and their assets never reloaded the router.
    assert router_loads() == loads


def test_asset_folder_setting_refusals(server: Server) -> None:
    ok(server, "apps", "create", "web")
    bad = server.roost("assets", "set", "web", "--dir", "../etc")
    assert bad.returncode != 0 and "invalid folder" in bad.stderr
    ok(server, "assets", "set", "web", "--dir", "public")
    none = server.roost("assets", "publish", "web", "--dry-run")
    assert none.returncode != 0 and "no deployed release" in none.stderr

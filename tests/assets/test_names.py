"""Names, types and folder discovery: table-driven."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.assets.names import compressible, content_type, has_digest, hashed_name
from roost.assets.serve import asset_base_url
from roost.assets.source import find_assets_dir
from roost.errors import InvalidInput, ParseError

SHA = "3f2a9c1b07" + "0" * 54


@pytest.mark.parametrize(("name", "digested"), [
    # Sprockets (sha256), Propshaft (8 hex, .digested), webpack, Django, Vite/Rollup.
    ("application-" + "6a1bf3f1c5" * 6 + "abcd.css", True),
    ("app-a1b2c3d4.js", True),
    ("app-abc123.digested.js", True),
    ("main.3f2a9c1b07d9e1f2a3b4.js", True),
    ("js/vendor.0123456789ab.css", True),
    ("assets/index-BJWmVGy_.js", True),
    ("assets/index-D-q1Xw3n.css", True),
    ("assets/Button-DropDown.js", True),  # camel case reads as a hash; harmless (see doc)
    ("report-20240101.pdf", True),
    ("app.css", False),
    ("jquery-3.6.0.min.js", False),
    ("bootstrap.bundle.min.js", False),
    ("my-settings.js", False),
    ("app-Settings.js", False),
    ("settings-overview.js", False),
    ("x-deadbeef.js", False),  # hex needs a digit
    ("a1b2c3d4e5.js", False),  # a digest needs a name before it
    ("chunk-abcdefgh.js", False),
    ("app-a1b2c3d4", False),  # nothing after the token: it is the extension-less name
    ("LICENSE", False),
    (".htaccess", False),
])
def test_has_digest(name: str, digested: bool) -> None:
    assert has_digest(name) is digested


@pytest.mark.parametrize(("path", "hashed"), [
    ("css/app.css", "css/app.3f2a9c1b07.css"),
    ("jquery.min.js", "jquery.min.3f2a9c1b07.js"),
    ("LICENSE", "LICENSE.3f2a9c1b07"),
    (".well-known/x.json", ".well-known/x.3f2a9c1b07.json"),
    (".htaccess", ".htaccess.3f2a9c1b07"),
])
def test_hashed_name(path: str, hashed: str) -> None:
    assert hashed_name(path, SHA) == hashed
    assert has_digest(hashed) or "." not in path.rpartition("/")[2].lstrip(".")


@pytest.mark.parametrize(("name", "ctype", "text"), [
    ("a.css", "text/css; charset=utf-8", True),
    ("a.mjs", "text/javascript; charset=utf-8", True),
    ("a.svg", "image/svg+xml", True),
    ("a.woff2", "font/woff2", False),
    ("a.wasm", "application/wasm", True),
    ("a.json", "application/json; charset=utf-8", True),
    ("a.js.map", "application/json; charset=utf-8", True),
    ("a.PNG", "image/png", False),
    ("a.tar.gz", "application/octet-stream", False),
    ("noext", "application/octet-stream", False),
])
def test_content_types(name: str, ctype: str, text: bool) -> None:
    assert content_type(name) == ctype
    assert compressible(name) is text


def test_find_assets_dir(tmp_path: Path) -> None:
    assert find_assets_dir(tmp_path) is None
    (tmp_path / "staticfiles").mkdir()
    (tmp_path / "static").mkdir()
    assert find_assets_dir(tmp_path) == (tmp_path / "static").resolve()
    (tmp_path / "public").mkdir()
    assert find_assets_dir(tmp_path) == (tmp_path / "public").resolve()
    (tmp_path / "dist").mkdir()
    (tmp_path / "app.json").write_text('{"name": "x", "assets": {"dir": "dist"}}')
    assert find_assets_dir(tmp_path) == (tmp_path / "dist").resolve()
    assert find_assets_dir(tmp_path, override="static") == (tmp_path / "static").resolve()
    with pytest.raises(InvalidInput, match="'nope' .set with roost assets set. does not exist"):
        find_assets_dir(tmp_path, override="nope")
    for bad in ("../..", "/etc", "dist/../../x"):
        (tmp_path / "app.json").write_text(f'{{"assets": {{"dir": "{bad}"}}}}')
        with pytest.raises(InvalidInput, match="from app.json"):
            find_assets_dir(tmp_path)
    (tmp_path / "app.json").write_text('{"assets": {"dir": 3}}')
    with pytest.raises(ParseError, match="app.json"):
        find_assets_dir(tmp_path)
    (tmp_path / "app.json").write_text('{\n  "assets": \n}')
    with pytest.raises(ParseError, match="app.json:3"):
        find_assets_dir(tmp_path)


def test_asset_base_url() -> None:
    assert asset_base_url("shop", object_store="file:///srv/objects", base_domain="example.test",
                          router_listen="0.0.0.0:8080") == "http://assets.example.test:8080/shop/"
    assert asset_base_url("shop", object_store="file:///x", base_domain="example.com",
                          router_listen="0.0.0.0:443", scheme="https") == \
        "https://assets.example.com/shop/"
    assert asset_base_url("shop", object_store="s3://b/p", asset_url="https://cdn.example/") == \
        "https://cdn.example/shop/"
    assert asset_base_url("shop", object_store="s3://bkt/pre?endpoint_url=http://127.0.0.1:9") \
        == "http://127.0.0.1:9/bkt/pre/assets/shop/"
    with pytest.raises(InvalidInput):
        asset_base_url("../x", object_store="file:///x")

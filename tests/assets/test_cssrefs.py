"""Stylesheets refer to the published (hashed) names of the files they use."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import brotli

from roost.assets import publish
from roost.assets.cssrefs import rewrite_all
from tests.assets.conftest import Counting

BASE = "http://assets.localhost:8080/shop/"
FONT = os.urandom(2000)
PNG = os.urandom(1500)
BASE_CSS = b"html { font-size: 16px; }\n" * 50
APP_CSS = b"""@import "base.css";
@import url(theme.css);
@font-face { font-family: Inter;
  src: url(../fonts/inter.woff2?v=4#iefix) format("woff2"), url('missing.woff') format("woff"); }
body { background: url("img/bg.png") no-repeat; }
.remote { background: url(https://cdn.example.com/x.png); }
.proto { background: url(//cdn.example.com/y.png); }
.inline { background: url(data:image/png;base64,iVBORw0KGgo=); }
.root { background: url(/img/bg.png); }
.filter { filter: url(#blur); }
/* an old rule: url(img/bg.png) */
.quote::before { content: "url(img/bg.png) /*"; }
.after-quote { background: url(img/bg.png); }
/*# sourceMappingURL=app.css.map */
""" + b".pad { padding: 1px; }\n" * 40
THEME_CSS = b".dark { background: url(img/bg.png); }\n" * 30


def _tree(root: Path) -> Path:
    files = {
        "css/app.css": APP_CSS,
        "css/base.css": BASE_CSS,
        "css/theme.css": THEME_CSS,
        "css/img/bg.png": PNG,
        "fonts/inter.woff2": FONT,
        "css/app.css.map": b'{"version":3,"sources":[],"mappings":""}',
        # A bundler's output: its references are its own business.
        "css/vendor-3f2a9c1b.css": b".v { background: url(img/bg.png); }\n" * 30,
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def test_published_stylesheet_names_the_hashed_files(store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    res = publish(store, "shop", 1, src, base_url=BASE)
    entries = res.manifest.entries
    app_key = entries["css/app.css"].key
    body = store.get("assets/shop/" + app_key)
    text = body.decode()
    base_key = entries["css/base.css"].key
    theme_key = entries["css/theme.css"].key
    assert base_key == f"css/base.{_short(BASE_CSS)}.css"  # nothing to rewrite: same bytes
    assert f'@import "base.{_short(BASE_CSS)}.css";' in text
    assert f"@import url({theme_key.removeprefix('css/')});" in text
    assert f"url(../fonts/inter.{_short(FONT)}.woff2?v=4#iefix)" in text
    assert f'url("img/bg.{_short(PNG)}.png")' in text
    assert f".after-quote {{ background: url(img/bg.{_short(PNG)}.png); }}" in text
    assert f"/*# sourceMappingURL={entries['css/app.css.map'].key.removeprefix('css/')} */" in text
    for kept in ("url('missing.woff')", "url(https://cdn.example.com/x.png)",
                 "url(//cdn.example.com/y.png)", "url(data:image/png;base64,iVBORw0KGgo=)",
                 "url(/img/bg.png)", "url(#blur)", "/* an old rule: url(img/bg.png) */",
                 'content: "url(img/bg.png) /*";'):
        assert kept in text
    # The key, the stored hash and the manifest are those of the rewritten bytes.
    assert app_key == f"css/app.{_short(body)}.css"
    head = store.head("assets/shop/" + app_key)
    assert head is not None and head.sha256 == hashlib.sha256(body).hexdigest()
    assert entries["css/app.css"].sha256 == head.sha256 and entries["css/app.css"].size == len(body)
    assert res.manifest.files()["css/app.css"] == BASE + app_key
    assert gzip.decompress(store.get(f"assets/shop/{app_key}.gz")) == body
    assert brotli.decompress(store.get(f"assets/shop/{app_key}.br")) == body
    # The theme imported by app.css is rewritten too, and app.css names its final key.
    theme = store.get("assets/shop/" + theme_key)
    assert f"url(img/bg.{_short(PNG)}.png)" in theme.decode()
    assert theme_key == f"css/theme.{_short(theme)}.css"
    # A digested name is published byte for byte under its own name.
    assert entries["css/vendor-3f2a9c1b.css"].key == "css/vendor-3f2a9c1b.css"
    assert store.get("assets/shop/css/vendor-3f2a9c1b.css") == (
        src / "css" / "vendor-3f2a9c1b.css").read_bytes()


def test_changed_font_changes_the_stylesheet_key_and_nothing_else(
        store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    first = publish(store, "shop", 1, src, base_url=BASE)
    store.reset()
    again = publish(store, "shop", 2, src, base_url=BASE)
    assert (again.files_uploaded, again.objects_uploaded) == (0, 0)
    assert store.calls.get("head", 0) == 0
    new_font = FONT + b"v2"
    (src / "fonts" / "inter.woff2").write_bytes(new_font)
    store.reset()
    res = publish(store, "shop", 3, src, base_url=BASE)
    old, new = first.manifest.entries, res.manifest.entries
    assert new["css/app.css"].key != old["css/app.css"].key
    assert sorted(p.source.path for p in res.plan.new) == ["css/app.css", "fonts/inter.woff2"]
    text = store.get("assets/shop/" + new["css/app.css"].key).decode()
    assert f"../fonts/inter.{_short(new_font)}.woff2?v=4#iefix" in text
    for unchanged in ("css/base.css", "css/theme.css", "css/img/bg.png"):
        assert new[unchanged].key == old[unchanged].key


def test_cycles_leave_the_closing_reference_and_end() -> None:
    sheets = {"a.css": b'@import "b.css";', "b.css": b'@import "a.css"; @import "c.css";',
              "c.css": b"x { background: url(self.css) url(c.css) url(d.png) }"}
    keys = {"d.png": "d.1234567890.png"}
    out = rewrite_all(sheets, keys, lambda p, b: p.replace(".css", f".{_short(b)}.css"))
    c_key = f"c.{_short(out['c.css'])}.css"
    b_key = f"b.{_short(out['b.css'])}.css"
    assert out["c.css"] == b"x { background: url(self.css) url(c.css) url(d.1234567890.png) }"
    assert out["b.css"] == f'@import "a.css"; @import "{c_key}";'.encode()
    assert out["a.css"] == f'@import "{b_key}";'.encode()


def test_odd_references_survive() -> None:
    css = (b"a{b:URL( 'x y.png' )} c{d:url(\"../../out.png\")} e{f:url()} "
           b"g{h:url(dir/)} @import 'q.css?x#y'; i{j:url(\xff.png)} /* unclosed url(x y.png)")
    keys = {"x y.png": "x y.abcdef0123.png", "q.css": "q.0123456789.css"}
    out = rewrite_all({"s.css": css}, keys, lambda p, b: p)["s.css"]
    assert out.startswith(b"a{b:URL( 'x%20y.abcdef0123.png' )}")
    assert b"@import 'q.0123456789.css?x#y';" in out
    back = out.replace(b"'x%20y.abcdef0123.png'", b"'x y.png'").replace(b"q.0123456789", b"q")
    assert back == css

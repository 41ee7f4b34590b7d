"""Publishing on both backends: what is stored, what is skipped, what is refused."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import brotli
import pytest

from roost.assets import MANIFEST_RELPATH, Manifest, Progress, publish
from roost.assets.names import IMMUTABLE
from roost.assets.retention import gc, keep_window, stats
from roost.errors import InvalidInput, ObjectStoreError
from roost.objectstore import open_store
from tests.assets.conftest import Counting

BASE = "http://assets.localhost:8080/shop/"
CSS = b".btn { color: red; padding: 4px 8px; }\n" * 300
JS = b"function go() { return document.querySelectorAll('a'); }\n" * 200
PNG = os.urandom(3000)


def _tree(root: Path) -> Path:
    files = {
        "css/app.css": CSS,
        "js/app.js": JS,
        "img/logo.png": PNG,
        "packs/main-6a1bf3f1c5c4ab7e2c4e2a8b1a7ee8d3c0f5e4d3b2a1908f7e6d5c4b3a29180a.js": JS * 2,
        "assets/index-BJWmVGy_.css": CSS + b"/*vite*/",
        "tiny.txt": b"hi",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_publish_stores_hashed_names_headers_variants_and_manifest(
        store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    events: list[Progress] = []
    res = publish(store, "shop", 1, src, base_url=BASE, release_dir=tmp_path,
                  progress=events.append)
    css_key = f"css/app.{hashlib.sha256(CSS).hexdigest()[:10]}.css"
    files = res.manifest.files()
    assert files["css/app.css"] == BASE + css_key
    assert files["assets/index-BJWmVGy_.css"] == BASE + "assets/index-BJWmVGy_.css"
    assert files["packs/main-6a1bf3f1c5c4ab7e2c4e2a8b1a7ee8d3c0f5e4d3b2a1908f7e6d5c4b3a29180a.js"
                  ].endswith("/packs/main-6a1bf3f1c5c4ab7e2c4e2a8b1a7ee8d3c0f5e4d3b2a1908f7e6d5c4b3a29180a.js")
    assert res.files_uploaded == 6 and len(res.plan.new) == 6
    # css, js, packs js, vite css each get br + gz; png and a 2-byte txt do not.
    assert res.objects_uploaded == 6 + 8
    head = store.head("assets/shop/" + css_key)
    assert head is not None
    assert head.content_type == "text/css; charset=utf-8" and head.cache_control == IMMUTABLE
    assert head.sha256 == hashlib.sha256(CSS).hexdigest()
    br = store.head("assets/shop/" + css_key + ".br")
    assert br is not None and br.content_encoding == "br" and br.content_type == head.content_type
    assert brotli.decompress(store.get("assets/shop/" + css_key + ".br")) == CSS
    assert gzip.decompress(store.get("assets/shop/" + css_key + ".gz")) == CSS
    png = store.head(f"assets/shop/img/logo.{hashlib.sha256(PNG).hexdigest()[:10]}.png")
    assert png is not None and png.content_type == "image/png"
    assert store.head(f"assets/shop/tiny.{hashlib.sha256(b'hi').hexdigest()[:10]}.txt.gz") is None
    # The manifest: in the release dir and beside the assets, the same document.
    assert res.manifest_path == MANIFEST_RELPATH
    local = json.loads((tmp_path / MANIFEST_RELPATH).read_text())
    assert local["files"] == files and local["release"] == 1
    assert json.loads(store.get("assets/shop/manifests/v1.json")) == local
    assert set(local["keys"]) == {k.removeprefix("assets/shop/") for k in store.put_keys
                                  if "/manifests/" not in k}
    assert events[-1] == Progress(6, 6, res.plan.bytes_new, res.plan.bytes_new)


def test_republish_uploads_nothing_and_reads_no_object_per_file(
        store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    publish(store, "shop", 1, src, base_url=BASE)
    store.reset()
    res = publish(store, "shop", 2, src, base_url=BASE)
    assert (res.files_uploaded, res.objects_uploaded) == (0, 0)
    assert len(res.plan.unchanged) == 6 and not res.plan.new and not res.plan.to_delete
    assert store.put_keys == ["assets/shop/manifests/v2.json"]
    assert store.calls.get("head", 0) == 0 and store.calls["list"] == 1
    assert store.calls["get"] == 1  # the v1 manifest, which vouches for every hash


def test_one_changed_file_uploads_exactly_it_and_its_variants(
        store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    first = publish(store, "shop", 1, src, base_url=BASE)
    changed = CSS + b".new { margin: 0 }\n"
    (src / "css" / "app.css").write_bytes(changed)
    store.reset()
    res = publish(store, "shop", 2, src, base_url=BASE)
    new_key = f"css/app.{hashlib.sha256(changed).hexdigest()[:10]}.css"
    assert [p.source.path for p in res.plan.new] == ["css/app.css"]
    assert (res.files_uploaded, res.objects_uploaded) == (1, 3)
    assert sorted(store.put_keys) == sorted(
        [f"assets/shop/{new_key}{s}" for s in ("", ".br", ".gz")]
        + ["assets/shop/manifests/v2.json"])
    old_key = first.manifest.entries["css/app.css"].key
    assert res.plan.to_delete == sorted(f"assets/shop/{old_key}{s}" for s in ("", ".br", ".gz"))


def test_dry_run_plans_without_writing(store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    plan = publish(store, "shop", 1, src, base_url=BASE, dry_run=True, release_dir=tmp_path)
    assert len(plan.plan.new) == 6 and not plan.plan.unchanged
    assert plan.manifest_path is None and not (tmp_path / MANIFEST_RELPATH).exists()
    assert store.put_keys == [] and list(store.list("assets/")) == []
    publish(store, "shop", 1, src, base_url=BASE)
    (src / "js" / "app.js").write_bytes(b"changed();")
    store.reset()
    again = publish(store, "shop", 2, src, base_url=BASE, dry_run=True)
    assert [p.source.path for p in again.plan.new] == ["js/app.js"]
    assert len(again.plan.unchanged) == 5 and store.put_keys == []
    assert len(again.plan.to_delete) == 3  # the old app.js and its two variants


def test_manifest_lost_falls_back_to_head_and_still_uploads_nothing(
        store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    publish(store, "shop", 1, src, base_url=BASE)
    store.delete("assets/shop/manifests/v1.json")
    store.reset()
    res = publish(store, "shop", 2, src, base_url=BASE)
    assert res.files_uploaded == 0
    # Variants already stored are recognised by key and size after compressing once.
    assert res.objects_uploaded == 0
    assert res.manifest.entries["css/app.css"].variants.keys() == {"br", "gzip"}


def test_predigested_name_holding_other_bytes_gets_our_hash(
        store: Counting, tmp_path: Path) -> None:
    src = tmp_path / "public"
    src.mkdir()
    name = "report-20240101.css"
    (src / name).write_bytes(b"a { color: red }")
    publish(store, "shop", 1, src, base_url=BASE)
    (src / name).write_bytes(b"a { color: blue }")
    res = publish(store, "shop", 2, src, base_url=BASE)
    key = res.manifest.entries[name].key
    assert key == f"report-20240101.{hashlib.sha256(b'a { color: blue }').hexdigest()[:10]}.css"
    assert store.get("assets/shop/" + name) == b"a { color: red }"  # v1 still finds its bytes


def test_refuses_symlink_outside_oversized_file_and_bad_names(
        store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (src / "css" / "leak.css").symlink_to(secret)
    with pytest.raises(InvalidInput, match="symlink css/leak.css points outside"):
        publish(store, "shop", 1, src, base_url=BASE)
    (src / "css" / "leak.css").unlink()
    (src / "css" / "inside.css").symlink_to(src / "css" / "app.css")  # inside: fine
    (src / "big.bin").write_bytes(b"x" * 5000)
    with pytest.raises(InvalidInput, match=r"big\.bin is 5000 bytes, over the limit of 4096"):
        publish(store, "shop", 1, src, base_url=BASE, max_file_bytes=4096)
    for app in ("../other", "Shop", "a/b", ""):
        with pytest.raises(InvalidInput, match="app name"):
            publish(store, app, 1, src, base_url=BASE)
    assert store.put_keys == []
    (src / "big.bin").unlink()
    res = publish(store, "shop", 1, src, base_url=BASE)
    assert "css/inside.css" in res.manifest.entries
    assert all(k.startswith("assets/shop/") for k in store.put_keys)


def test_two_apps_never_share_keys(store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    publish(store, "shop", 1, src, base_url=BASE)
    publish(store, "shop-admin", 1, src, base_url=BASE.replace("shop", "shop-admin"))
    shop = {i.key for i in store.list("assets/shop/")}
    admin = {i.key for i in store.list("assets/shop-admin/")}
    assert shop and admin and not shop & admin
    assert {k.removeprefix("assets/shop/") for k in shop} == {
        k.removeprefix("assets/shop-admin/") for k in admin}
    result = gc(store, "shop-admin", [], now=datetime.now(UTC) + timedelta(hours=2))
    assert len(result.deleted) == len(admin)
    assert {i.key for i in store.list("assets/shop/")} == shop


def test_gc_keeps_current_previous_and_recent(store: Counting, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    keys = {}
    for release in range(1, 9):
        (src / "js" / "app.js").write_bytes(JS + f"// v{release}\n".encode())
        res = publish(store, "shop", release, src, base_url=BASE)
        keys[release] = res.manifest.keys()
    keep = keep_window(range(1, 9), current=8, previous=5)
    assert keep == [3, 4, 5, 6, 7, 8]
    # Everything was published within the hour: nothing may go yet.
    recent = gc(store, "shop", keep, dry_run=False)
    assert recent.deleted == []
    later = datetime.now(UTC) + timedelta(hours=2)
    plan = gc(store, "shop", keep, now=later, dry_run=True)
    needed = set().union(*(keys[r] for r in keep))
    doomed = {f"assets/shop/{k}" for k in (keys[1] | keys[2]) - needed}
    assert set(plan.deleted) == doomed | {"assets/shop/manifests/v1.json",
                                          "assets/shop/manifests/v2.json"}
    assert sorted(plan.deleted_manifests) == [1, 2] and len(doomed) == 6
    assert all(store.head(k) for k in plan.deleted)  # a dry run deletes nothing
    done = gc(store, "shop", keep, now=later)
    assert sorted(done.deleted) == sorted(plan.deleted) and done.bytes_freed > 0
    left = {i.key.removeprefix("assets/shop/") for i in store.list("assets/shop/")}
    for release in keep:  # a rollback to any kept release finds every asset
        assert keys[release] <= left
    st = stats(store, "shop")
    plain = {k for k in left if not k.endswith((".br", ".gz", ".json"))}
    assert st.releases == keep and st.files == len(plain) == 6 + 5
    assert st.last_published is not None


def test_unreachable_bucket_fails_with_one_clear_line(s3_env: str, tmp_path: Path) -> None:
    src = _tree(tmp_path / "public")
    missing = open_store("s3://no-such-bucket-for-roost/x")
    with pytest.raises(ObjectStoreError) as err:
        publish(missing, "shop", 3, src, base_url=BASE, release_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("assets of shop v3 not published:")
    assert "no-such-bucket-for-roost" in message and "does not exist" in message
    assert not (tmp_path / MANIFEST_RELPATH).exists()


def test_store_failure_midway_fails_before_the_manifest(tmp_path: Path) -> None:
    st = open_store(f"file://{tmp_path / 'objects'}")
    # A file where a folder of keys must go: every js/ upload fails, the others succeed.
    (tmp_path / "objects" / "assets" / "shop").mkdir(parents=True)
    (tmp_path / "objects" / "assets" / "shop" / "js").write_text("in the way")
    src = _tree(tmp_path / "public")
    with pytest.raises(ObjectStoreError) as err:
        publish(st, "shop", 1, src, base_url=BASE, release_dir=tmp_path, workers=2)
    message = str(err.value)
    assert "\n" not in message and message.startswith("assets of shop v1 not published:")
    assert "js/app." in message
    assert not (tmp_path / MANIFEST_RELPATH).exists()
    assert st.head("assets/shop/manifests/v1.json") is None


def test_manifest_roundtrip(tmp_path: Path, store: Counting) -> None:
    src = _tree(tmp_path / "public")
    res = publish(store, "shop", 4, src, base_url=BASE)
    again = Manifest.loads(res.manifest.dumps(), "m.json")
    assert again.files() == res.manifest.files() and again.keys() == res.manifest.keys()

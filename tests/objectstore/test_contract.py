"""One test suite that every object-store backend must pass."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from roost.errors import InvalidInput, NotFound
from roost.objectstore import ObjectStore


def test_put_head_get_roundtrip(store: ObjectStore) -> None:
    data = b"hello object store\n" * 100
    info = store.put("a/b/c.txt", data, content_type="text/plain",
                     metadata={"owner": "app1"}, cache_control="max-age=60",
                     content_encoding="identity")
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    head = store.head("a/b/c.txt")
    assert head is not None
    assert (head.key, head.size, head.sha256) == ("a/b/c.txt", len(data), info.sha256)
    assert head.content_type == "text/plain"
    assert head.metadata == {"owner": "app1"}
    assert head.cache_control == "max-age=60"
    assert head.content_encoding == "identity"
    assert abs(head.last_modified - datetime.now(UTC)) < timedelta(minutes=5)
    assert store.get("a/b/c.txt") == data
    assert store.exists("a/b/c.txt")


def test_put_from_path_and_file_object(store: ObjectStore, tmp_path: Path) -> None:
    big = bytes(range(256)) * 40_000  # ~10 MB: crosses boto's multipart threshold
    src = tmp_path / "big.bin"
    src.write_bytes(big)
    info = store.put("big.bin", src)
    assert info.sha256 == hashlib.sha256(big).hexdigest()
    store.put("small.bin", io.BytesIO(b"from a file object"))
    assert store.get("small.bin") == b"from a file object"
    out = tmp_path / "dl" / "copy.bin"
    dl = store.download("big.bin", out)
    assert out.read_bytes() == big
    assert dl.sha256 == info.sha256
    assert not list(out.parent.glob(".*part"))


def test_overwrite_replaces_content_and_metadata(store: ObjectStore) -> None:
    store.put("k", b"one", metadata={"v": "1"})
    store.put("k", b"two!", metadata={"v": "2"})
    head = store.head("k")
    assert head is not None and head.size == 4 and head.metadata == {"v": "2"}
    assert store.get("k") == b"two!"


def test_missing_keys(store: ObjectStore, tmp_path: Path) -> None:
    assert store.head("nope") is None
    with pytest.raises(NotFound):
        store.get("nope")
    with pytest.raises(NotFound):
        store.download("nope", tmp_path / "x")
    store.delete("nope")  # deleting a missing key is fine


def test_list_by_prefix_in_key_order(store: ObjectStore) -> None:
    for key in ["slugs/b/2.tgz", "slugs/a/1.tgz", "slugs/a/0.tgz", "assets/x.css"]:
        store.put(key, key.encode())
    assert [o.key for o in store.list("slugs/")] == ["slugs/a/0.tgz", "slugs/a/1.tgz",
                                                     "slugs/b/2.tgz"]
    assert [o.key for o in store.list("slugs/a/")] == ["slugs/a/0.tgz", "slugs/a/1.tgz"]
    sizes = {o.key: o.size for o in store.list()}
    assert sizes == {k: len(k) for k in sizes} and len(sizes) == 4
    assert list(store.list("none/")) == []


def test_delete(store: ObjectStore) -> None:
    store.put("d/one", b"1")
    store.put("d/two", b"2")
    store.delete("d/one")
    assert store.head("d/one") is None
    assert [o.key for o in store.list("d/")] == ["d/two"]


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "../x", "a//b", "./a", "a/./b", "a\\b",
                                 "nul\x00"])
def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        store.put(key, b"x")
    with pytest.raises(InvalidInput):
        store.head(key)


def test_url_serves_the_object(store: ObjectStore) -> None:
    store.put("pub/file.txt", b"via url", content_type="text/plain")
    url = store.url("pub/file.txt", expires_in=300)
    if url.startswith("file://"):
        assert Path(url.removeprefix("file://")).read_bytes() == b"via url"
    else:
        resp = httpx.get(url, timeout=10)
        assert resp.status_code == 200 and resp.content == b"via url"
    assert store.url("pub/file.txt").endswith("pub/file.txt")

"""Backend-specific behaviour: URL parsing, the file layout, S3 error translation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roost.errors import ConfigError, InvalidInput, ObjectStoreError
from roost.objectstore import open_store
from roost.objectstore.file import FileStore
from roost.objectstore.s3 import S3Store
from tests.objectstore.conftest import new_bucket


def test_open_store_by_scheme(tmp_path: Path, s3_env: str) -> None:
    fs = open_store(f"file://{tmp_path}/objs?public_url=https://assets.example/")
    assert isinstance(fs, FileStore) and fs.identifier == "file"
    assert fs.url("a/b.css") == "https://assets.example/a/b.css"
    assert fs.can_serve_public and fs.local_root() == (tmp_path / "objs").resolve()
    s3 = open_store("s3://bucket/pre/fix")
    assert isinstance(s3, S3Store) and s3.identifier == "s3"
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == ("bucket", "pre/fix/", s3_env)
    assert s3.can_serve_public and s3.local_root() is None
    for bad in ["ftp://x/y", "file://relative/dir", "s3:///nobucket"]:
        with pytest.raises(ConfigError):
            open_store(bad)


def test_file_store_lays_files_out_by_key(tmp_path: Path) -> None:
    fs = open_store(f"file://{tmp_path}")
    fs.put("assets/app.css", b"body{}", content_type="text/css")
    assert (tmp_path / "assets" / "app.css").read_bytes() == b"body{}"
    # Roost and the router's group only (runtime/layout.py shares the root with it)
    assert oct((tmp_path / "assets" / "app.css").stat().st_mode & 0o777) == "0o640"
    assert not os.listdir(tmp_path / ".roost-tmp")
    with pytest.raises(InvalidInput):
        fs.put(".roost-meta/evil", b"x")
    fs.delete("assets/app.css")
    assert not (tmp_path / "assets").exists()  # empty directories are pruned


def test_file_store_key_clash_is_one_clear_error(tmp_path: Path) -> None:
    fs = open_store(f"file://{tmp_path}")
    fs.put("a", b"file")
    with pytest.raises(ObjectStoreError, match="clashes"):
        fs.put("a/b", b"under a file")


def test_s3_missing_bucket_is_one_clear_line(s3_env: str) -> None:
    st = open_store("s3://no-such-bucket-roost")
    with pytest.raises(ObjectStoreError) as err:
        st.put("x", b"1")
    assert "does not exist" in str(err.value) and "\n" not in str(err.value)


def test_s3_unreachable_endpoint_is_translated(monkeypatch: pytest.MonkeyPatch,
                                               closed_port: int) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    st = open_store(f"s3://b?endpoint_url=http://127.0.0.1:{closed_port}")
    st.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(ObjectStoreError, match="failed"):
        st.head("x")


def test_s3_prefix_isolates_keys(s3_env: str) -> None:
    bucket = new_bucket(s3_env)
    one, two = open_store(f"s3://{bucket}/one"), open_store(f"s3://{bucket}/two")
    one.put("k", b"1")
    assert two.head("k") is None
    assert [o.key for o in one.list()] == ["k"]


def test_s3_small_put_is_one_signed_request(s3_env: str) -> None:
    st = open_store(f"s3://{new_bucket(s3_env)}/pre")
    assert isinstance(st, S3Store)
    through_boto: list[str] = []
    real = st.client.put_object
    st.client.put_object = lambda **kw: through_boto.append(kw["Key"]) or real(**kw)
    st.put("first", b"1")  # the first PUT goes through boto, which shows where PUTs go
    assert through_boto == ["pre/first"] and st.direct.base == f"{s3_env}/{st.bucket}/"
    key = "css/a b+ü~(1).css"  # keys that need percent-encoding in the URL
    st.put(key, b"body{}", content_type="text/css", cache_control="public",
           content_encoding="br", metadata={"source-sha256": "abc"})
    head = st.head(key)
    assert head is not None and st.get(key) == b"body{}"
    assert (head.content_type, head.cache_control, head.content_encoding) == (
        "text/css", "public", "br")
    assert head.metadata == {"source-sha256": "abc"} and head.sha256
    assert [o.key for o in st.list()] == [key, "first"]
    assert through_boto == ["pre/first"]  # signed and sent directly, not through put_object
    big = b"x" * (9 * 1024 * 1024)  # over the direct limit: boto's managed upload
    st.put("big.bin", big)
    assert through_boto == ["pre/first", "pre/big.bin"] and st.get("big.bin") == big


def test_s3_rejected_direct_put_falls_back_to_boto(s3_env: str) -> None:
    st = open_store(f"s3://{new_bucket(s3_env)}")
    assert isinstance(st, S3Store)
    # The direct request goes to a bucket that does not exist and is answered 404:
    # boto's put_object must store the object where it belongs.
    st.put("first", b"0")
    st.direct.base = f"{s3_env}/no-such-bucket-roost/"
    st.put("k", b"1", content_type="text/plain")
    head = st.head("k")
    assert head is not None and head.content_type == "text/plain" and st.get("k") == b"1"
    st.direct.base = f"{s3_env}/{st.bucket}/"
    st.put("k", b"2")
    assert st.get("k") == b"2" and st.direct.enabled

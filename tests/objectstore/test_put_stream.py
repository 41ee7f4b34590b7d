"""put_stream: an object written from a pipe that can be read only once, on every backend."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading

from roost.objectstore import ObjectStore


def test_put_stream_from_a_pipe(store: ObjectStore) -> None:
    body = os.urandom(3 * 1024 * 1024 + 17)
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        assert proc.stdin is not None
        proc.stdin.write(body)
        proc.stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    info = store.put_stream("dumps/a.dump", proc.stdout, content_type="application/x-test",
                            metadata={"app": "shop"})
    writer.join()
    proc.wait()
    assert info.size == len(body) and info.sha256 == hashlib.sha256(body).hexdigest()
    assert store.get("dumps/a.dump") == body
    head = store.head("dumps/a.dump")
    assert head is not None and head.size == len(body) and head.metadata == {"app": "shop"}


def test_streamed_file_objects_are_not_world_readable(tmp_path: object) -> None:
    from pathlib import Path

    from roost.objectstore import open_store

    root = Path(str(tmp_path)) / "objects"
    store = open_store(f"file://{root}")
    read, write = os.pipe()
    os.write(write, b"a database dump")
    os.close(write)
    with os.fdopen(read, "rb") as source:
        store.put_stream("addons/postgres/shop/backups/b001.dump", source)
    mode = (root / "addons/postgres/shop/backups/b001.dump").stat().st_mode & 0o777
    assert mode == 0o640  # a backup holds every row of the app's database

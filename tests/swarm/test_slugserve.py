"""The slug server's signed uploads (build tasks' slugs, results, caches): no Docker needed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roost.objectstore import open_store
from roost.runtime.swarm.slugserve import SlugServer
from tests.conftest import free_port, wait_for


@pytest.fixture
def served(tmp_path: Path) -> Iterator[SlugServer]:
    store = open_store(f"file://{tmp_path / 'objects'}")
    server = SlugServer(f"127.0.0.1:{free_port()}", store, b"k" * 32)
    server.start()
    wait_for(lambda: httpx.get(f"http://{server.listen}/").status_code == 403)
    try:
        yield server
    finally:
        server.stop()


def test_a_signed_put_writes_its_key_once_within_its_size_and_time(served: SlugServer) -> None:
    key = "slugs/app/b1.tar.gz"
    url = served.put_url(key, time.time() + 60, 10)
    assert httpx.put(url, content=b"0123456789").status_code == 204
    assert served.store.get(key) == b"0123456789"
    assert httpx.get(served.url(key)).content == b"0123456789"
    # A URL a buildpack kept cannot replace the slug once uploaded.
    assert httpx.put(url, content=b"evil").status_code == 409
    assert served.store.get(key) == b"0123456789"

    other = "slugs/app/b2.tar.gz"
    assert httpx.put(served.put_url(other, time.time() + 60, 10),
                     content=b"01234567890").status_code == 413
    assert httpx.put(served.put_url(other, time.time() - 1, 10),
                     content=b"x").status_code == 403  # expired
    forged = served.put_url(key, time.time() + 60, 10).replace("/b1.", "/b2.")
    assert httpx.put(forged, content=b"x").status_code == 403  # signed for another key
    assert httpx.put(served.url(other), content=b"x").status_code == 403  # a GET URL
    assert not served.store.exists(other)

    # The build cache is the one key a later build may overwrite.
    cache = "buildcache/app.tar.gz"
    for data in (b"one", b"two"):
        assert httpx.put(served.put_url(cache, time.time() + 60, 10),
                         content=data).status_code == 204
    assert served.store.get(cache) == b"two"

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


def test_a_task_fetches_its_slug_from_another_instance_when_its_deployer_died(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import tarfile

    from roost.runtime.swarm import runner
    from roost.runtime.swarm.slugserve import legacy_key, signing_key

    store = open_store(f"file://{tmp_path / 'objects'}")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("Procfile")
        info.size = len(b"web: serve\n")
        tar.addfile(info, io.BytesIO(b"web: serve\n"))
    store.put("slugs/app/r1.tgz", buf.getvalue())
    secret = b"x" * 44  # every instance has the same ROOST_SECRET_KEY
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "swarm-slug.key").write_bytes(b"o" * 32)
    deployer = SlugServer(f"127.0.0.1:{free_port()}", store, signing_key(secret))
    survivor = SlugServer(f"127.0.0.1:{free_port()}", store, signing_key(secret),
                          (legacy_key(tmp_path / "old") or b"",))
    deployer.peers = lambda: [survivor.listen]
    urls = deployer.urls("slugs/app/r1.tgz")  # what the deployer put in the task's secret
    assert [u.split("/")[2] for u in urls] == [deployer.listen, survivor.listen]
    survivor.start()  # the deployer's host is gone: nothing listens at its address
    try:
        monkeypatch.setattr(runner, "APP", tmp_path / "task" / "app")
        monkeypatch.setattr(runner.time, "sleep", lambda _s: None)
        runner.fetch(urls, attempts=1)
        assert (tmp_path / "task" / "app" / "Procfile").read_text() == "web: serve\n"
        # A URL signed for another slug, or with another secret, opens nothing.
        forged = urls[1].replace("r1.tgz", "r2.tgz")
        assert httpx.get(forged).status_code == 403
        stranger = SlugServer(survivor.listen, store, signing_key(b"y" * 44))
        assert httpx.get(stranger.url("slugs/app/r1.tgz")).status_code == 403
        # Tasks deployed by an earlier version (per-host key in the home) still start.
        old = SlugServer(survivor.listen, store, b"o" * 32)
        assert httpx.get(old.url("slugs/app/r1.tgz")).status_code == 200
        with pytest.raises(SystemExit, match="any control-plane host"):
            runner.fetch(urls[:1], attempts=1)
    finally:
        survivor.stop()

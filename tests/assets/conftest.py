"""Fixtures: an object store per backend (S3 through moto in server mode) and a spy on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.objectstore import ObjectInfo, ObjectStore, open_store
from tests.objectstore.conftest import moto_endpoint, new_bucket, s3_env

__all__ = ["moto_endpoint", "s3_env"]


class Counting(ObjectStore):
    """A store that forwards to a real one and counts the requests made through it."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}
        self.put_keys: list[str] = []

    def _count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    def put(self, key: str, data: Any, content_type: str | None = None,
            metadata: dict[str, str] | None = None, cache_control: str | None = None,
            content_encoding: str | None = None) -> ObjectInfo:
        self._count("put")
        self.put_keys.append(key)
        return self.inner.put(key, data, content_type, metadata, cache_control,
                              content_encoding)

    def head(self, key: str) -> ObjectInfo | None:
        self._count("head")
        return self.inner.head(key)

    def stream(self, key: str) -> Iterator[bytes]:
        self._count("get")
        return self.inner.stream(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self._count("list")
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self._count("delete")
        self.inner.delete(key)

    def url(self, key: str, expires_in: int | None = None) -> str:
        return self.inner.url(key, expires_in)

    def reset(self) -> None:
        """Forget the counts so far."""
        self.calls.clear()
        self.put_keys.clear()


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Counting]:
    """A counting store, once per backend."""
    if request.param == "file":
        inner = open_store(f"file://{tmp_path / 'objects'}")
    else:
        endpoint = request.getfixturevalue("s3_env")
        inner = open_store(f"s3://{new_bucket(endpoint)}/roost")
    yield Counting(inner)
    inner.close()

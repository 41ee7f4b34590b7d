"""The object-store interface shared by every backend."""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ClassVar

from roost.errors import InvalidInput

Data = bytes | Path | BinaryIO
"""What ``put`` accepts: the bytes themselves, a file on disk, or an open binary file."""

CHUNK = 1024 * 1024


class HashingReader:
    """A read-once binary stream that hashes and counts what is read through it."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes from the source, hashing them."""
        chunk = self.source.read(n)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def readable(self) -> bool:
        """Always: this is an input stream."""
        return True


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows about one object."""

    key: str
    size: int
    last_modified: datetime
    content_type: str | None = None
    sha256: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    cache_control: str | None = None
    content_encoding: str | None = None


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise InvalidInput."""
    if not key or len(key) > 1024:
        raise InvalidInput(f"object key must be 1-1024 characters, got {len(key)}")
    if "\x00" in key or "\\" in key:
        raise InvalidInput(f"object key {key!r} contains a NUL or backslash")
    if key.startswith("/"):
        raise InvalidInput(f"object key {key!r} must be relative (no leading '/')")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        raise InvalidInput(f"object key {key!r} has an empty, '.' or '..' segment")
    if posixpath.normpath(key) != key.rstrip("/"):
        raise InvalidInput(f"object key {key!r} is not normalised")
    return key


def sha256_of(data: Data) -> tuple[str, int]:
    """The hex sha256 and size of ``data``; a file object is rewound afterwards."""
    digest = hashlib.sha256()
    if isinstance(data, bytes):
        digest.update(data)
        return digest.hexdigest(), len(data)
    size = 0
    if isinstance(data, Path):
        with data.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size
    start = data.tell()
    while chunk := data.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    data.seek(start)
    return digest.hexdigest(), size


class ObjectStore(ABC):
    """A flat namespace of keys holding bytes plus a little metadata.

    Every backend computes the sha256 of what it stores and keeps it in the object's
    metadata (``ObjectInfo.sha256``): S3 ETags are not content hashes for multipart
    or KMS-encrypted uploads, so callers compare our hash instead.
    """

    identifier: ClassVar[str] = ""
    can_serve_public: ClassVar[bool] = False
    can_sign_urls: ClassVar[bool] = False  # url(key, expires_in) gives a time-limited link
    """Whether browsers can fetch the objects by URL (the asset host): from the backend
    itself, or, for a store that is a local directory (``local_root``), from the router."""

    @abstractmethod
    def put(
        self,
        key: str,
        data: Data,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        cache_control: str | None = None,
        content_encoding: str | None = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``key``, replacing any object already there."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's info, or None when there is no such key."""

    @abstractmethod
    def stream(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks; raises NotFound when there is no such key."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order.

        Listing is cheap on every backend, so ``metadata`` and ``sha256`` may be
        empty here; call ``head`` for the full info of one object.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; deleting a missing key is not an error."""

    @abstractmethod
    def url(self, key: str, expires_in: int | None = None) -> str:
        """A URL for ``key``: public-style, or signed for ``expires_in`` seconds where supported."""

    def local_root(self) -> Path | None:
        """The directory holding the objects as files laid out by key, or None when the
        objects are not local files (the router serves such a directory as the asset host)."""
        return None
    def put_stream(self, key: str, source: BinaryIO, content_type: str | None = None,
                   metadata: dict[str, str] | None = None) -> ObjectInfo:
        """Store a stream that can be read once (a pipe) under ``key``; its sha256 and size
        are computed on the way. This default spools to a private temp file, then ``put``s it.
        """
        with tempfile.TemporaryDirectory(prefix="roost-spool-") as tmp:
            path = Path(tmp) / "object"
            with path.open("wb") as fh:
                shutil.copyfileobj(source, fh, CHUNK)
            return self.put(key, path, content_type=content_type, metadata=metadata)

    def get(self, key: str) -> bytes:
        """The object's bytes; raises NotFound when there is no such key."""
        return b"".join(self.stream(key))

    def download(self, key: str, path: Path) -> ObjectInfo:
        """Write the object to ``path`` (atomically) and return its info."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        digest = hashlib.sha256()
        size = 0
        try:
            with tmp.open("wb") as fh:
                for chunk in self.stream(key):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        info = self.head(key)
        if info is None:  # deleted between the read and the head: report what we read
            info = ObjectInfo(key, size, datetime.now(UTC), sha256=digest.hexdigest())
        return info

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds an object."""
        return self.head(key) is not None

    def close(self) -> None:
        """Release any connections the backend holds."""
        return None

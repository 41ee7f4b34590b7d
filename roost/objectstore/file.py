"""The ``file:///dir`` backend: plain files under one directory, metadata beside them."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from roost.errors import InvalidInput, NotFound, ObjectStoreError
from roost.objectstore.base import (
    CHUNK,
    Data,
    HashingReader,
    ObjectInfo,
    ObjectStore,
    check_key,
    sha256_of,
)

# Both live inside the root so that temp files rename atomically onto their target, and
# so the router can serve the root as-is; keys may not start with either name.
META_DIR = ".roost-meta"
TMP_DIR = ".roost-tmp"


class FileStore(ObjectStore):
    """Objects as files under ``root``; metadata in a sidecar JSON under ``.roost-meta/``.

    Writes go to a temp file and are renamed into place, so a reader sees either the
    old object or the new one, never half of one. The files themselves are laid out
    by key, so a static file server can serve the root directly.
    """

    identifier = "file"
    can_serve_public = True  # the router serves local_root() as the asset host

    def __init__(self, root: Path, public_url: str | None = None) -> None:
        self.root = root.resolve()
        self.public_url = public_url.rstrip("/") + "/" if public_url else None
        try:
            (self.root / TMP_DIR).mkdir(parents=True, exist_ok=True)
            (self.root / META_DIR).mkdir(exist_ok=True)
        except OSError as exc:
            raise ObjectStoreError(f"file store {self.root}: cannot create: {exc}") from exc

    def _paths(self, key: str) -> tuple[Path, Path]:
        check_key(key)
        if key.split("/")[0] in (META_DIR, TMP_DIR):
            raise InvalidInput(f"object key {key!r} uses a reserved name")
        return self.root / key, self.root / META_DIR / (key + ".json")

    def local_root(self) -> Path:
        """The store's directory: every object is the file at its key under it."""
        return self.root

    def local_path(self, key: str) -> Path:
        """Where the object's bytes live on disk (whether or not it exists)."""
        return self._paths(key)[0]

    def put(
        self,
        key: str,
        data: Data,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        cache_control: str | None = None,
        content_encoding: str | None = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``key`` atomically."""
        self._paths(key)  # refuses a bad key before the data is read
        digest, _ = sha256_of(data)
        meta: dict[str, Any] = {
            "content_type": content_type,
            "cache_control": cache_control,
            "content_encoding": content_encoding,
            "sha256": digest,
            "metadata": dict(metadata or {}),
        }
        def fill(fh: BinaryIO) -> None:
            if isinstance(data, bytes):
                fh.write(data)
            elif isinstance(data, Path):
                with data.open("rb") as src:
                    shutil.copyfileobj(src, fh, CHUNK)
            else:
                shutil.copyfileobj(data, fh, CHUNK)

        return self._write(key, fill, lambda: meta)

    def put_stream(self, key: str, source: BinaryIO, content_type: str | None = None,
                   metadata: dict[str, str] | None = None) -> ObjectInfo:
        """Write the stream straight to a temp file beside its target, hashing on the way."""
        reader = HashingReader(source)
        return self._write(key, lambda fh: shutil.copyfileobj(reader, fh, CHUNK), lambda: {
            "content_type": content_type, "cache_control": None, "content_encoding": None,
            "sha256": reader.digest.hexdigest(), "metadata": dict(metadata or {})})

    def _write(self, key: str, fill: Callable[[BinaryIO], object],
               meta: Callable[[], dict[str, Any]]) -> ObjectInfo:
        """Fill a temp file beside the target, then move it and its sidecar into place."""
        path, meta_path = self._paths(key)
        tmp = self.root / TMP_DIR / uuid.uuid4().hex
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as fh:
                fill(fh)
            # Readable by Roost, and by the router's group where runtime/layout.py shared
            # the root with it (assets): never by everyone.
            os.chmod(tmp, 0o640)
            os.replace(tmp, path)
            _write_json_atomic(meta_path, meta(), self.root / TMP_DIR)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            raise ObjectStoreError(f"file store: key {key!r} clashes with another key") from exc
        except OSError as exc:
            raise ObjectStoreError(f"file store: cannot write {key!r}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        info = self.head(key)
        assert info is not None
        return info

    def head(self, key: str) -> ObjectInfo | None:
        """The object's info from its stat and sidecar, or None."""
        path, meta_path = self._paths(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}  # a file put there by hand: report what the filesystem knows
        return ObjectInfo(
            key=key,
            size=st.st_size,
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
            content_type=meta.get("content_type"),
            sha256=meta.get("sha256"),
            metadata=dict(meta.get("metadata") or {}),
            cache_control=meta.get("cache_control"),
            content_encoding=meta.get("content_encoding"),
        )

    def stream(self, key: str) -> Iterator[bytes]:
        """The file's bytes in chunks."""
        path, _ = self._paths(key)
        try:
            fh = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise NotFound(f"object {key!r} not found in {self.root}") from exc
        return _chunks(fh)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` in key order (with their sidecar metadata)."""
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            if rel == ".":
                dirnames[:] = [d for d in dirnames if d not in (META_DIR, TMP_DIR)]
                rel = ""
            for name in filenames:
                key = f"{rel}/{name}" if rel else name
                if key.startswith(prefix):
                    keys.append(key.replace(os.sep, "/"))
        for key in sorted(keys):
            info = self.head(key)
            if info is not None:
                yield info

    def delete(self, key: str) -> None:
        """Remove the file and its sidecar, then any directories left empty."""
        path, meta_path = self._paths(key)
        try:
            path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
        except IsADirectoryError:
            return
        except OSError as exc:
            raise ObjectStoreError(f"file store: cannot delete {key!r}: {exc}") from exc
        for start, top in ((path.parent, self.root), (meta_path.parent, self.root / META_DIR)):
            _prune_empty(start, top)

    def url(self, key: str, expires_in: int | None = None) -> str:
        """The public URL when one was configured, else a ``file://`` URL."""
        path, _ = self._paths(key)
        if self.public_url:
            return self.public_url + key
        return path.as_uri()


def _chunks(fh: Any) -> Iterator[bytes]:
    with fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _write_json_atomic(path: Path, value: object, tmp_dir: Path) -> None:
    tmp = tmp_dir / (uuid.uuid4().hex + ".json")
    try:
        tmp.write_text(json.dumps(value, sort_keys=True))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _prune_empty(start: Path, top: Path) -> None:
    while start != top and top in start.parents:
        try:
            start.rmdir()
        except OSError:
            return
        start = start.parent

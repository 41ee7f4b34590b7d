"""Object storage behind one interface, chosen by URL: ``file:///dir`` or ``s3://bucket/prefix``.

Slugs, static assets and database backups all live here. Backends are imported on
first use, so boto3 matters only to those who ask for ``s3://``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from roost.errors import ConfigError
from roost.objectstore.base import Data, ObjectInfo, ObjectStore, check_key

__all__ = ["Data", "ObjectInfo", "ObjectStore", "check_key", "open_store"]

SCHEMES = ("file", "s3")


def open_store(url: str) -> ObjectStore:
    """Open the object store named by ``url``.

    ``file:///abs/dir[?public_url=https://assets.example/]`` or
    ``s3://bucket[/prefix][?endpoint_url=...&region=...]``.
    """
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(f"object store URL {url!r}: use file:///absolute/dir")
        from roost.objectstore.file import FileStore

        return FileStore(Path(unquote(parts.path)), public_url=query.get("public_url"))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError(f"object store URL {url!r}: missing bucket (s3://bucket/prefix)")
        from roost.objectstore.s3 import S3Store

        return S3Store(parts.netloc, unquote(parts.path).strip("/"),
                       endpoint_url=query.get("endpoint_url"), region=query.get("region"))
    raise ConfigError(
        f"object store URL {url!r}: unknown scheme {parts.scheme!r} (use one of {SCHEMES})")

"""The ``s3://bucket/prefix`` backend through boto3 (AWS S3, MinIO, R2, moto)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from roost.errors import NotFound, ObjectStoreError
from roost.objectstore.base import (
    CHUNK,
    Data,
    HashingReader,
    ObjectInfo,
    ObjectStore,
    check_key,
    sha256_of,
)

# S3 lower-cases user metadata keys; ours is stored under this name.
SHA_KEY = "roost-sha256"
POOL_CONNECTIONS = 32


class S3Store(ObjectStore):
    """Objects in one bucket under an optional key prefix.

    The endpoint comes from ``endpoint_url`` or ``AWS_ENDPOINT_URL``; credentials and
    region from boto3's usual chain (environment, config files, instance role).
    """

    identifier = "s3"
    can_serve_public = True  # the bucket's own URLs, or a CDN in front of it
    can_sign_urls = True  # presigned GETs

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        try:
            import boto3
            import botocore.session
            from botocore.config import Config
            from botocore.httpsession import URLLib3Session

            from roost.objectstore.s3_direct import DirectPut
        except ImportError as exc:  # only the user who asked for s3:// needs boto3
            raise ObjectStoreError("s3:// object store needs boto3: pip install boto3") from exc
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get(
            "AWS_DEFAULT_REGION") or "us-east-1"
        with self._errors("connect", ""):
            session = botocore.session.get_session()
            self.client: Any = boto3.session.Session(botocore_session=session).client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                config=Config(retries={"max_attempts": 3, "mode": "standard"},
                              # Callers upload from thread pools (asset publishing uses 16).
                              max_pool_connections=POOL_CONNECTIONS,
                              s3={"addressing_style": "path"} if self.endpoint_url else {}),
            )
            http = URLLib3Session(verify=session.get_config_variable("ca_bundle") or True,
                                  max_pool_connections=POOL_CONNECTIONS, timeout=60)
            self.direct = DirectPut(self.client, session.get_credentials(),
                                    self.client.meta.region_name, http)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextmanager
    def _errors(self, op: str, key: str) -> Iterator[None]:
        """Translate boto errors into one-line ObjectStoreErrors."""
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"s3://{self.bucket}/{self.prefix}{key}"
        try:
            yield
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "?"))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise NotFound(f"object {key!r} not found in s3://{self.bucket}") from exc
            message = err.get("Message") or code
            if code == "NoSuchBucket":
                message = f"bucket {self.bucket!r} does not exist; create it first"
            raise ObjectStoreError(f"{op} {where} failed: {code}: {message}") from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"{op} {where} failed: {exc}") from exc

    def put(
        self,
        key: str,
        data: Data,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        cache_control: str | None = None,
        content_encoding: str | None = None,
    ) -> ObjectInfo:
        """Upload ``data``; files go through boto's managed (multipart) transfer."""
        full = self._key(key)
        digest, size = sha256_of(data)
        extra: dict[str, Any] = {"Metadata": {**(metadata or {}), SHA_KEY: digest}}
        if content_type:
            extra["ContentType"] = content_type
        if cache_control:
            extra["CacheControl"] = cache_control
        if content_encoding:
            extra["ContentEncoding"] = content_encoding
        # Small bodies go out in one signed request (see s3_direct); anything that does not
        # succeed that way goes through boto, which retries and names the error.
        if not (isinstance(data, bytes) and self.direct.put(full, data, _headers(extra))):
            self._put_with_client(full, key, data, extra)
        # A successful PUT is authoritative; a HEAD to read back what we just sent would
        # double the requests of every upload.
        return ObjectInfo(key=key, size=size, last_modified=datetime.now(UTC),
                          content_type=content_type, sha256=digest, metadata=dict(metadata or {}),
                          cache_control=cache_control, content_encoding=content_encoding)

    def _put_with_client(self, full: str, key: str, data: Data, extra: dict[str, Any]) -> None:
        with self._errors("put", key):
            if isinstance(data, bytes):
                self.client.put_object(Bucket=self.bucket, Key=full, Body=data, **extra)
                self.direct.learn(full)
            elif isinstance(data, Path):
                self.client.upload_file(str(data), self.bucket, full, ExtraArgs=extra)
            else:
                self.client.upload_fileobj(data, self.bucket, full, ExtraArgs=extra)

    def put_stream(self, key: str, source: BinaryIO, content_type: str | None = None,
                   metadata: dict[str, str] | None = None) -> ObjectInfo:
        """A multipart upload fed from the stream as it is read (parts go up in parallel).

        The sha256 is known only at the end, after S3 has taken the metadata, so it is
        returned here (and callers record it) but ``head`` does not report it.
        """
        from boto3.s3.transfer import TransferConfig

        reader = HashingReader(source)
        extra: dict[str, Any] = {"Metadata": dict(metadata or {})}
        if content_type:
            extra["ContentType"] = content_type
        config = TransferConfig(multipart_chunksize=16 * 1024 * 1024, max_concurrency=8)
        with self._errors("put", key):
            self.client.upload_fileobj(reader, self.bucket, self._key(key), ExtraArgs=extra,
                                       Config=config)
        return ObjectInfo(key=key, size=reader.size, last_modified=datetime.now(UTC),
                          content_type=content_type, sha256=reader.digest.hexdigest(),
                          metadata=dict(metadata or {}))

    def head(self, key: str) -> ObjectInfo | None:
        """HEAD the object; None when it does not exist."""
        try:
            with self._errors("head", key):
                resp = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except NotFound:
            return None
        meta = dict(resp.get("Metadata") or {})
        digest = meta.pop(SHA_KEY, None)
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            last_modified=resp["LastModified"],
            content_type=resp.get("ContentType"),
            sha256=digest,
            metadata=meta,
            cache_control=resp.get("CacheControl"),
            content_encoding=resp.get("ContentEncoding"),
        )

    def stream(self, key: str) -> Iterator[bytes]:
        """GET the object and yield its body in chunks."""
        with self._errors("get", key):
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        return self._body(resp["Body"], key)

    def _body(self, body: Any, key: str) -> Iterator[bytes]:
        with self._errors("get", key):
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` (size and date only; ``head`` for metadata)."""
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("list", prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for obj in page.get("Contents", []):
                    yield ObjectInfo(
                        key=obj["Key"][len(self.prefix):],
                        size=int(obj["Size"]),
                        last_modified=obj["LastModified"],
                    )

    def delete(self, key: str) -> None:
        """DELETE the object (S3 treats a missing key as success)."""
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def url(self, key: str, expires_in: int | None = None) -> str:
        """A presigned GET URL when ``expires_in`` is given, else the plain object URL."""
        full = self._key(key)
        if expires_in is not None:
            with self._errors("sign", key):
                return str(self.client.generate_presigned_url(
                    "get_object", Params={"Bucket": self.bucket, "Key": full},
                    ExpiresIn=expires_in))
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}/{full}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{full}"

    def close(self) -> None:
        """Close boto's connection pools."""
        self.client.close()
        self.direct.http.close()


def _headers(extra: dict[str, Any]) -> dict[str, str]:
    """The HTTP headers ``put_object`` would send for ``extra`` (its ExtraArgs)."""
    headers = {f"x-amz-meta-{k}": v for k, v in extra["Metadata"].items()}
    for arg, header in (("ContentType", "Content-Type"), ("CacheControl", "Cache-Control"),
                        ("ContentEncoding", "Content-Encoding")):
        if arg in extra:
            headers[header] = extra[arg]
    return headers

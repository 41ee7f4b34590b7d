"""Single-request S3 PUTs of small in-memory bodies, without boto's per-call machinery.

``client.put_object`` spends about a millisecond of CPU per call in botocore's event
hooks, parameter handling and response parsing; a deploy that uploads thousands of
small assets on a two-core machine spends seconds there. A PUT of bytes we already hold
needs far less: the same SigV4 signer botocore uses (with the payload's sha256 signed,
so the store rejects a corrupted body), sent on botocore's own HTTP session (same TLS
settings, proxies and pool). Everything that is not a plain ``200`` (a redirect to
another region, an auth or bucket error, a dropped connection) is left to the full
client, which retries and reports the error as before: the caller falls back to it.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError
from botocore.httpsession import URLLib3Session
from botocore.utils import percent_encode

# Bigger bodies go through boto's managed transfer (multipart, Expect: 100-continue).
MAX_DIRECT_BYTES = 8 * 1024 * 1024
_PROBE = "roost-probe"
# Statuses that will not get better on the next request: stop trying the direct path.
_GIVE_UP = frozenset({301, 307, 400, 401, 403})


class DirectPut:
    """PUTs signed and sent without ``client.put_object``; see the module doc."""

    def __init__(self, client: Any, credentials: Any, bucket: str, region: str,
                 http: URLLib3Session) -> None:
        self.client = client
        self.credentials = credentials
        self.bucket = bucket
        self.region = region
        self.http = http
        self.enabled = credentials is not None
        self._base: str | None = None
        self._lock = threading.Lock()

    def _bucket_url(self) -> str:
        """The URL a key is appended to, as botocore's endpoint rules give it (virtual-host
        or path style, custom endpoint or AWS), learned once from a presigned URL."""
        with self._lock:
            if self._base is None:
                signed = self.client.generate_presigned_url(
                    "put_object", Params={"Bucket": self.bucket, "Key": _PROBE})
                parts = urlsplit(signed)
                if not parts.path.endswith("/" + _PROBE):
                    raise ValueError(f"unexpected presigned URL shape {parts.path!r}")
                path = parts.path[:-len(_PROBE)]
                self._base = f"{parts.scheme}://{parts.netloc}{path}"
            return self._base

    def put(self, full_key: str, body: bytes, headers: dict[str, str]) -> bool:
        """PUT ``body`` under ``full_key``; False when the caller must use the full client."""
        if not self.enabled or len(body) > MAX_DIRECT_BYTES:
            return False
        try:
            url = self._bucket_url() + percent_encode(full_key, safe="/~")
            request = AWSRequest("PUT", url, data=body, headers=headers)
            S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3",
                        self.region).add_auth(request)
            response = self.http.send(request.prepare())
            response.content  # noqa: B018 - drain the body so the connection can be reused
        except (BotoCoreError, ValueError):
            return False
        if response.status_code in _GIVE_UP:
            self.enabled = False
        return bool(response.status_code == 200)

"""Single-request S3 PUTs of small in-memory bodies, without boto's per-call machinery.

``client.put_object`` spends about a millisecond of CPU per call in botocore's event
hooks, parameter handling and response parsing; a deploy that uploads thousands of
small assets on a two-core machine spends seconds there. A PUT of bytes we already hold
needs far less: the URL botocore sent an earlier PUT to (so its endpoint rules still
decide where requests go), the SigV4 signer it uses (the payload's sha256 is signed, so
the store rejects a corrupted body) and one of its HTTP sessions (the store's CA bundle, a
pool as large as the client's; no proxy, so where only a proxy reaches the store every
direct PUT fails over to the client).
The first PUT of a store, and everything that does not come back a plain ``200``
(a redirect to another region, an auth or bucket error, a dropped connection), goes
through the full client, which retries and reports the error as before.
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
# Statuses that will not get better on the next request: stop trying the direct path.
_GIVE_UP = frozenset({301, 307, 400, 401, 403})


class DirectPut:
    """PUTs signed and sent without ``client.put_object``; see the module doc."""

    def __init__(self, client: Any, credentials: Any, region: str, http: URLLib3Session,
                 ) -> None:
        self.credentials = credentials
        self.region = region
        self.http = http
        self.enabled = credentials is not None
        self.base: str | None = None
        """The URL keys are appended to; learned from a PUT that boto sent (see ``learn``)."""
        self._sent = threading.local()
        # botocore's endpoint rules (virtual-host or path style, custom endpoint, dual-stack,
        # FIPS...) decide where a PUT goes: rather than repeat them, see where one went.
        client.meta.events.register("before-send.s3.PutObject", self._remember_url)

    def _remember_url(self, request: Any, **_: Any) -> None:
        self._sent.url = request.url

    def learn(self, full_key: str) -> None:
        """After boto's put_object of ``full_key`` succeeded in this thread, take its URL."""
        url = urlsplit(getattr(self._sent, "url", "") or "")
        tail = "/" + percent_encode(full_key, safe="/~")
        if self.base is None and url.path.endswith(tail):
            self.base = f"{url.scheme}://{url.netloc}{url.path[:-len(tail)]}/"

    def put(self, full_key: str, body: bytes, headers: dict[str, str]) -> bool:
        """PUT ``body`` under ``full_key``; False when the caller must use the full client."""
        if not self.enabled or self.base is None or len(body) > MAX_DIRECT_BYTES:
            return False
        try:
            url = self.base + percent_encode(full_key, safe="/~")
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

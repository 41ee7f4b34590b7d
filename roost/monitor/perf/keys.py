"""The ingest-key cache of the OTLP receiver: valid keys in an LRU, bad ones kept apart.

Resolving a key reads every app's settings, so answers are cached. Valid keys live in a
least-recently-used map of bounded size; unknown keys in a second, smaller one, so a flood
of made-up keys can evict only other made-up keys, never a key an app is sending. A
revoked or rotated key is dropped at once (:meth:`IngestKeys.forget_app`); an entry also
expires after ``ttl`` seconds, which bounds how long another host's revocation takes.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

VALID_SIZE = 10_000
INVALID_SIZE = 1_024


class IngestKeys:
    """Maps ingest keys to app names through ``resolve``, caching the answers."""

    def __init__(self, resolve: Callable[[str], str | None], *, size: int = VALID_SIZE,
                 invalid_size: int = INVALID_SIZE, ttl: float = 60.0,
                 invalid_ttl: float = 5.0) -> None:
        self.resolve = resolve
        self.size, self.invalid_size = size, invalid_size
        self.ttl, self.invalid_ttl = ttl, invalid_ttl
        # Keyed by the key's SHA-256: the cache never holds a key itself.
        self._valid: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._invalid: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every forget: a lookup racing it is not cached

    async def app_for(self, key: str) -> str | None:
        """The app ``key`` belongs to, or None; asks the store only on a cache miss."""
        digest = _digest(key)
        now = time.monotonic()
        with self._lock:
            hit = self._valid.get(digest)
            if hit is not None and hit[1] > now:
                self._valid.move_to_end(digest)
                return hit[0]
            bad_until = self._invalid.get(digest)
            if bad_until is not None and bad_until > now:
                return None
            generation = self._generation
        app = await run_in_threadpool(self.resolve, key)
        with self._lock:
            if generation == self._generation:
                self._remember(digest, app, now)
        return app

    def _remember(self, digest: str, app: str | None, now: float) -> None:
        if app is None:
            self._invalid[digest] = now + self.invalid_ttl
            self._invalid.move_to_end(digest)
            while len(self._invalid) > self.invalid_size:
                self._invalid.popitem(last=False)
            return
        self._invalid.pop(digest, None)
        self._valid[digest] = (app, now + self.ttl)
        self._valid.move_to_end(digest)
        while len(self._valid) > self.size:
            self._valid.popitem(last=False)

    def cached(self, key: str) -> str | None:
        """The app a live cache entry gives for ``key`` (None when a lookup would be needed)."""
        with self._lock:
            hit = self._valid.get(_digest(key))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def counts(self) -> tuple[int, int]:
        """How many valid and how many unknown keys are cached."""
        with self._lock:
            return len(self._valid), len(self._invalid)

    def forget_app(self, app: str) -> None:
        """Drop every cached key of ``app`` (its key was rotated or revoked, or it is gone)."""
        with self._lock:
            self._generation += 1
            for digest in [d for d, (name, _) in self._valid.items() if name == app]:
                del self._valid[digest]
            self._invalid.clear()  # the new key may have been tried before it existed


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()

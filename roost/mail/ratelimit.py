"""Token buckets: a sending rate per app and per recipient domain, shared by the workers."""

from __future__ import annotations

import threading
import time


class Buckets:
    """One bucket per key, each refilled at ``rate`` per second up to ``rate`` (1 s burst)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.state: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 when granted, else the seconds to wait for one."""
        now = time.monotonic() if now is None else now
        with self.lock:
            tokens, last = self.state.get(key, (self.rate, now))
            tokens = min(self.rate, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self.state[key] = (tokens - 1.0, now)
                return 0.0
            self.state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def give_back(self, key: str) -> None:
        """Return a token taken for a message that was not sent after all."""
        with self.lock:
            tokens, last = self.state.get(key, (self.rate, time.monotonic()))
            self.state[key] = (min(self.rate, tokens + 1.0), last)

"""A token bucket per recipient address, so no phone is flooded."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TokenBuckets:
    """``capacity`` messages at once, refilled at one per ``refill_s`` seconds per address."""

    capacity: float = 5.0
    refill_s: float = 60.0
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, address: str, now: float | None = None) -> float:
        """Take one token; 0.0 when granted, else seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, last = self._state.get(address, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) / self.refill_s)
        if tokens >= 1.0:
            self._state[address] = (tokens - 1.0, now)
            return 0.0
        self._state[address] = (tokens, now)
        return (1.0 - tokens) * self.refill_s

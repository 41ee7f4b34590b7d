"""The last plan of each zone, kept a short while so an apply right after it applies that
plan instead of listing the whole zone at the provider a second time (the listing is most of
the cost of a plan: Route53 returns 300 record sets a request).

A plan is reused only by the next apply of its zone, within ``REUSE_SECONDS``, only when
the zone's records and settings in Roost are exactly those it was made from, and only when it
has changes (after an empty plan, or once a drift check finds drift, the apply reads the zone
again, so a record changed in the provider's console is put back). A change made at
the provider in between is not lost: Route53 applies a change batch whole or not at all and
refuses a DELETE or CREATE that no longer matches the live records, and the failure is
reported (with a fresh read of what went through) like any other; an owned record changed in
the provider's console is put back, which is what the apply would have done anyway.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REUSE_SECONDS = 60.0


@dataclass
class Kept:
    """A plan with the provider that made it (holding what it read) and what it came from."""

    made: float
    source: str  # digest of the zone's records and settings
    provider: Any
    plan: Any  # sync.ZonePlan
    read_at: datetime  # when the provider was read for it


_KEPT: dict[str, Kept] = {}
_LOCK = threading.Lock()


def digest(*parts: Any) -> str:
    """A digest of the zone's records and settings (JSON-able parts)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def keep(zone: str, source: str, provider: Any, plan: Any, read_at: datetime) -> None:
    """Remember a zone's latest plan (replacing the one before); drop stale ones."""
    now = time.monotonic()
    with _LOCK:
        for name in [n for n, k in _KEPT.items() if now - k.made > REUSE_SECONDS]:
            del _KEPT[name]
        _KEPT[zone] = Kept(now, source, provider, plan, read_at)


def take(zone: str, source: str) -> Kept | None:
    """The zone's kept plan if it is fresh and made from ``source``; it is forgotten either
    way, so a plan is applied at most once."""
    with _LOCK:
        found = _KEPT.pop(zone, None)
    if found is None or found.source != source or time.monotonic() - found.made > REUSE_SECONDS:
        return None
    return found


def forget(zone: str) -> None:
    """Forget a zone's kept plan (its records at the provider are about to change)."""
    with _LOCK:
        _KEPT.pop(zone, None)

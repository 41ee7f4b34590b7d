"""Which names a plan reads live at the provider: the whole zone, or only the names changed in
Roost since the last apply.

Reading a whole zone costs a request per 300 record sets at Route53 (a 5,000-record zone with
its ownership records: 34 requests, at Route53's 5 requests a second). A plan of a few changed
names reads only those names, live, and takes the rest of the zone as it was last found in
full: by the drift check, which reads every zone every ``dns_drift_interval_seconds``, or by
an apply that read it. It does so only while that reading is recent (two drift intervals and
a minute), found no drift, and the provider can read single names (Route53); otherwise, when
nothing changed in Roost (a plan then answers "is the zone as Roost wants it?"), for the apex
NS, for names with characters other than letters, digits, ``-`` and ``_``, and with
``refresh``, the whole zone is read. A change made at the provider since that reading to a
name the plan does not touch is left for the next drift check, which reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from roost.dns.names import OWNERSHIP_PREFIX
from roost.dns.records import RecordData, from_snapshot
from roost.store.base import utcnow
from roost.store.models.dns import DnsZone

MAX_NAMES = 100  # beyond this many changed names, reading the whole zone is not much more
_SIMPLE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


@dataclass(frozen=True)
class Scope:
    """A plan's reading of only ``names`` (record names, '' the apex) with the record types
    Roost has or had at each, the zone's records counted from the last apply (ownership
    records included: the safety thresholds' base), and when the rest was last read."""

    names: frozenset[str]
    types: dict[str, frozenset[str]]
    existing: int
    since: datetime

    def fqdns(self, zone: str) -> list[str]:
        """The names to read: each changed name and its ownership records' names."""
        out = []
        for name in sorted(self.names):
            out.append(f"{name}.{zone}." if name else f"{zone}.")
            for kind in sorted(self.types.get(name, ())):
                label = ".".join(p for p in (OWNERSHIP_PREFIX, kind, name) if p)
                out.append(f"{label}.{zone}.")
        return out

    def describe(self) -> str:
        """What the plan read, in one line."""
        return (f"read live: the {len(self.names)} names changed since the last apply; the "
                f"zone's other records as read in full at {self.since:%Y-%m-%d %H:%M:%S} UTC")


def trust_seconds(drift_interval: float) -> float:
    """How long a full reading of a zone stands in for the names a plan does not read."""
    return 2 * drift_interval + 60


def _differs(a: RecordData | None, b: RecordData | None) -> bool:
    if a is None or b is None:
        return a is not b
    return (a.ttl, a.data) != (b.ttl, b.data)


def of(zone: DnsZone, wanted: list[RecordData], *, can_read_names: bool,
       drift_interval: float, refresh: bool = False) -> Scope | None:
    """The names a plan of ``zone`` may read alone, or None: read the whole zone."""
    if refresh or not can_read_names or zone.applied is None or zone.drift:
        return None
    since = zone.checked_at
    if since is None or (utcnow() - since).total_seconds() > trust_seconds(drift_interval):
        return None
    applied = {r.key: r for r in from_snapshot(zone.applied)}
    current = {r.key: r for r in wanted}
    touched = [k for k in applied.keys() | current.keys()
               if _differs(applied.get(k), current.get(k))]
    names = {key.rpartition(" ")[0] for key in touched}
    if not names or len(names) > MAX_NAMES or " NS" in touched:
        return None
    if any(name and not _SIMPLE.match(name) for name in names):
        return None
    types = {n: frozenset(r.type for r in (*applied.values(), *current.values()) if r.name == n)
             for n in names}
    return Scope(frozenset(names), types, existing=2 * len(applied), since=since)

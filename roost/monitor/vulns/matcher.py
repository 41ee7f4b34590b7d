"""OSV ``affected`` entries compiled once (versions parsed, events sorted) for fast matching."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from roost.monitor.vulns.versions import Comparable, parse_semver_range_version, parse_version

_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2}


@dataclass(frozen=True, slots=True)
class Range:
    """One ECOSYSTEM or SEMVER range with its events parsed and sorted."""

    semver: bool
    from_start: bool
    points: tuple[tuple[Comparable, int], ...]  # (version, 0 introduced / 1 fixed / 2 last)
    limits: tuple[Comparable, ...]

    def contains(self, version: Comparable) -> bool:
        """The OSV evaluation: walk sorted events, toggling affected status."""
        affected = self.from_start
        for point, kind in self.points:
            if kind == 0:
                if version >= point:
                    affected = True
            elif kind == 1:
                if version >= point:
                    affected = False
            elif version > point:
                affected = False
        if affected and self.limits:
            return any(version < limit for limit in self.limits)
        return affected


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``affected`` entry: explicit versions plus ranges, and its ``fixed`` versions."""

    raw_versions: frozenset[str]
    versions: tuple[Comparable, ...]
    ranges: tuple[Range, ...]
    fixes: tuple[tuple[Comparable, str], ...]


def _range(ecosystem: str, rng: Mapping[str, Any]) -> Range | None:
    semver = rng.get("type") == "SEMVER"
    parse: Callable[[str], Comparable | None] = (
        parse_semver_range_version if semver else lambda t: parse_version(ecosystem, t)
    )
    from_start = False
    points: list[tuple[Comparable, int]] = []
    limits: list[Comparable] = []
    for event in rng.get("events") or ():
        if not isinstance(event, Mapping):
            return None
        for kind, value in event.items():
            text = str(value)
            if kind == "introduced" and text == "0":
                from_start = True
            elif kind == "limit" and text == "*":
                continue
            elif kind in _ORDER or kind == "limit":
                parsed = parse(text)
                if parsed is None:
                    return None  # a range we cannot read must not guess
                if kind == "limit":
                    limits.append(parsed)
                else:
                    points.append((parsed, _ORDER[kind]))
    points.sort(key=lambda p: (p[0], p[1]))
    return Range(semver, from_start, tuple(points), tuple(limits))


def compile_entries(ecosystem: str, entries: Iterable[Mapping[str, Any]]) -> tuple[Entry, ...]:
    """Parse every version of ``entries`` once, by the rules of ``ecosystem``."""
    out: list[Entry] = []
    for entry in entries:
        raw = frozenset(str(v) for v in entry.get("versions") or ())
        parsed = tuple(p for v in raw if (p := parse_version(ecosystem, v)) is not None)
        ranges: list[Range] = []
        fixes: list[tuple[Comparable, str]] = []
        for rng in entry.get("ranges") or ():
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue  # GIT ranges name commits, not versions
            compiled = _range(ecosystem, rng)
            if compiled is not None:
                ranges.append(compiled)
            for event in rng.get("events") or ():
                text = event.get("fixed") if isinstance(event, Mapping) else None
                if text is not None and (p := parse_version(ecosystem, str(text))) is not None:
                    fixes.append((p, str(text)))
        out.append(Entry(raw, parsed, tuple(ranges), tuple(fixes)))
    return tuple(out)


@lru_cache(maxsize=131072)
def compile_json(ecosystem: str, text: str) -> tuple[Entry, ...]:
    """compile_entries over the stored JSON of an index row (cached: rows repeat across scans)."""
    return compile_entries(ecosystem, orjson.loads(text))


def affects(ecosystem: str, entries: Sequence[Entry], installed: str) -> bool:
    """True when ``installed`` is listed in, or inside a range of, any entry."""
    version = parse_version(ecosystem, installed)
    semver: Comparable | None | bool = False  # parsed lazily: SEMVER ranges are rare
    for entry in entries:
        if installed in entry.raw_versions or (version is not None and version in entry.versions):
            return True
        for rng in entry.ranges:
            if rng.semver:
                if semver is False:
                    semver = parse_semver_range_version(installed)
                if semver is not None and not isinstance(semver, bool) and rng.contains(semver):
                    return True
            elif version is not None and rng.contains(version):
                return True
    return False


def lowest_fix(ecosystem: str, entries: Iterable[Entry], installed: str) -> str | None:
    """The lowest ``fixed`` version above ``installed`` named by any entry."""
    current = parse_version(ecosystem, installed)
    if current is None:
        return None
    above = [fix for entry in entries for fix in entry.fixes if fix[0] > current]
    return min(above, key=lambda f: f[0])[1] if above else None

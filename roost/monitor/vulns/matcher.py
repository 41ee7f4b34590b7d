"""OSV ``affected`` entries compiled to a compact, JSON-ready matcher, and matching with it.

A matcher is compiled once, at import, from everything one advisory says about one package,
and stored beside it; a scan decodes it and compares order keys, parsing no advisory version:

    [FORMAT, versions, keys, ranges, fixes, unread]

- ``versions``: the ``versions`` lists as written (an exact string match always counts);
- ``keys``: the order keys of those that parse (``1.0`` matches a listed ``1.0.0``);
- ``ranges``: ECOSYSTEM and SEMVER ranges, each ``[semver, from_start, limits, events]`` with
  ``events`` ``[key, kind]`` pairs (0 introduced, 1 fixed, 2 last_affected) in the order
  osv.dev's own version enumeration applies them: sorted by version, events at one version
  in record order (``fixed: 3.1.1`` then ``introduced: 3.1.1`` re-opens the range at 3.1.1);
- ``fixes``: ``[key, text]`` for every ``fixed`` event, to name the lowest fix above a version;
- ``unread``: why a range was left out (a bound that is not a version of the ecosystem,
  e.g. ``fixed: 0.2.0-n653`` on PyPI): such a range is never guessed at, and scans report
  the advisory as not evaluated.

The union over entries is kept: a version is affected when any entry affects it, and the
fixes of all entries are candidates, so merging entries changes no answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import orjson

from roost.monitor.vulns.versions import VersionKey, parse_semver_range_version, parse_version

FORMAT = 2  # bump when the layout or the keys change: stored matchers are then recompiled
Matcher = list[Any]
_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2}


def _range(ecosystem: str, rng: Mapping[str, Any]) -> list[Any] | str:
    """The compiled range, or why it cannot be read (a range we cannot read must not guess)."""
    semver = rng.get("type") == "SEMVER"
    parse: Callable[[str], VersionKey | None] = (
        parse_semver_range_version if semver else lambda t: parse_version(ecosystem, t)
    )
    from_start = False
    events: list[list[Any]] = []
    limits: list[VersionKey] = []
    for event in rng.get("events") or ():
        if not isinstance(event, Mapping):
            return f"a range event is not an object: {event!r}"
        for kind, value in event.items():
            text = str(value)
            if kind == "introduced" and text == "0":
                from_start = True
            elif kind == "limit" and text == "*":
                continue
            elif kind in _ORDER or kind == "limit":
                parsed = parse(text)
                if parsed is None:
                    scheme = "SemVer" if semver else ecosystem
                    return f"range bound {kind}: {text} is not a {scheme} version"
                if kind == "limit":
                    limits.append(parsed)
                else:
                    events.append([parsed, _ORDER[kind]])
    events.sort(key=lambda e: e[0])  # stable: one version's events keep the record's order
    return [int(semver), int(from_start), limits, events]


def compile_entries(ecosystem: str, entries: Iterable[Mapping[str, Any]]) -> Matcher:
    """The matcher of one package's ``affected`` entries, every version parsed once."""
    versions: dict[str, None] = {}  # ordered, without repeats
    keys: list[VersionKey] = []
    ranges: list[list[Any]] = []
    fixes: list[list[Any]] = []
    unread: list[str] = []
    for entry in entries:
        for raw in entry.get("versions") or ():
            text = str(raw)
            if text in versions:
                continue
            versions[text] = None
            if (key := parse_version(ecosystem, text)) is not None:
                keys.append(key)
        for rng in entry.get("ranges") or ():
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue  # GIT ranges name commits, not versions
            compiled = _range(ecosystem, rng)
            if isinstance(compiled, str):
                unread.append(compiled)
            else:
                ranges.append(compiled)
            for event in rng.get("events") or ():
                fixed = event.get("fixed") if isinstance(event, Mapping) else None
                if fixed is not None and (key := parse_version(ecosystem, str(fixed))) is not None:
                    fixes.append([key, str(fixed)])
    return [FORMAT, list(versions), keys, ranges, fixes, unread]


def matcher_json(ecosystem: str, entries: Iterable[Mapping[str, Any]]) -> str:
    """compile_entries as the JSON text stored in the advisory index."""
    return orjson.dumps(compile_entries(ecosystem, entries)).decode()


_CURRENT = f"[{FORMAT},"


@lru_cache(maxsize=4096)
def _compile_stored(ecosystem: str, affected: str) -> str:
    return matcher_json(ecosystem, orjson.loads(affected))


def usable_matcher_json(ecosystem: str, stored: str | None, affected: str | None) -> str:
    """The stored matcher text when it is of this format; else one compiled from the raw
    ``affected`` entries (an index written before matchers were stored, or by another Roost)."""
    if stored is not None and stored.startswith(_CURRENT):
        return stored
    return _compile_stored(ecosystem, affected or "[]")


def decode(text: str) -> Matcher:
    """A matcher from its JSON text (decoded where used: holding the text, not the lists,
    keeps a scan's garbage-collector work small)."""
    matcher: Matcher = orjson.loads(text)
    return matcher


def _in_range(rng: list[Any], version: VersionKey) -> bool:
    # The OSV evaluation: walk sorted events, toggling affected status.
    affected = bool(rng[1])
    for point, kind in rng[3]:
        if kind == 0:
            if version >= point:
                affected = True
        elif kind == 1:
            if version >= point:
                affected = False
        elif version > point:
            affected = False
    if affected and rng[2]:
        return any(version < limit for limit in rng[2])
    return affected


def affects(ecosystem: str, matcher: Matcher, installed: str) -> bool:
    """True when ``installed`` is listed by, or inside a range of, ``matcher``."""
    if installed in matcher[1]:
        return True
    version = parse_version(ecosystem, installed)
    if version is not None and version in matcher[2]:
        return True
    semver: VersionKey | None | bool = False  # parsed lazily: SEMVER ranges are rare
    for rng in matcher[3]:
        if rng[0]:
            if semver is False:
                semver = parse_semver_range_version(installed)
            if isinstance(semver, list) and _in_range(rng, semver):
                return True
        elif version is not None and _in_range(rng, version):
            return True
    return False


def unread_ranges(matcher: Matcher) -> list[str]:
    """Why some of the matcher's ranges were left out (empty when every range was read)."""
    unread: list[str] = matcher[5]
    return unread


def lowest_fix(ecosystem: str, matchers: Iterable[Matcher], installed: str) -> str | None:
    """The lowest ``fixed`` version above ``installed`` named by any of ``matchers``."""
    current = parse_version(ecosystem, installed)
    if current is None:
        return None
    above = [fix for m in matchers for fix in m[4] if fix[0] > current]
    return str(min(above, key=lambda f: f[0])[1]) if above else None

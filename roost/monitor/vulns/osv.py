"""OSV records: what we keep of them, and whether a version is affected."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roost.monitor.vulns.cvss import base_score, level_for_score, normalise_level
from roost.monitor.vulns.versions import (
    Comparable,
    base_ecosystem,
    normalise_name,
    parse_semver_range_version,
    parse_version,
)

Entry = Mapping[str, Any]  # one OSV ``affected`` entry, reduced to versions and ranges
_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2}


@dataclass(frozen=True)
class RecordSummary:
    """The parts of an OSV record that Roost indexes; ``packages`` maps keys to entries."""

    id: str
    modified: datetime
    withdrawn: datetime | None
    aliases: tuple[str, ...]
    summary: str
    severity: str | None
    score: float | None
    packages: dict[tuple[str, str], list[dict[str, Any]]]


def parse_timestamp(text: str) -> datetime:
    """Parse an OSV RFC 3339 timestamp to an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def record_severity(record: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """Severity from a CVSS v3 vector when there is one, else ``database_specific.severity``."""
    vectors = list(record.get("severity") or [])
    for aff in record.get("affected") or []:
        vectors.extend(aff.get("severity") or [])
    scores = [
        s for v in vectors
        if isinstance(v, Mapping) and str(v.get("type", "")).startswith("CVSS_V3")
        and (s := base_score(str(v.get("score", "")))) is not None
    ]
    if scores:
        return level_for_score(max(scores)), max(scores)
    specific = record.get("database_specific")
    if isinstance(specific, Mapping) and isinstance(specific.get("severity"), str):
        return normalise_level(specific["severity"]), None
    return None, None


def summarise(record: Mapping[str, Any]) -> RecordSummary:
    """Reduce a raw OSV record to what the index needs; raises KeyError/ValueError if invalid."""
    packages: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for aff in record.get("affected") or []:
        pkg = aff.get("package") or {}
        if not pkg.get("name") or not pkg.get("ecosystem"):
            continue
        eco = base_ecosystem(str(pkg["ecosystem"]))
        key = (eco, normalise_name(eco, str(pkg["name"])))
        entry: dict[str, Any] = {}
        if aff.get("versions"):
            entry["versions"] = [str(v) for v in aff["versions"]]
        ranges = [
            {"type": r.get("type"), "events": r.get("events") or []}
            for r in aff.get("ranges") or [] if r.get("type") in ("ECOSYSTEM", "SEMVER")
        ]
        if ranges:
            entry["ranges"] = ranges
        packages.setdefault(key, []).append(entry)
    severity, score = record_severity(record)
    withdrawn = record.get("withdrawn")
    return RecordSummary(
        id=str(record["id"]),
        modified=parse_timestamp(str(record["modified"])),
        withdrawn=parse_timestamp(str(withdrawn)) if withdrawn else None,
        aliases=tuple(str(a) for a in record.get("aliases") or []),
        summary=str(record.get("summary") or record.get("details") or "")[:500],
        severity=severity,
        score=score,
        packages=packages,
    )


def _parser(ecosystem: str, range_type: str) -> Callable[[str], Comparable | None]:
    if range_type == "SEMVER":
        return parse_semver_range_version
    return lambda text: parse_version(ecosystem, text)


def _in_range(parse: Callable[[str], Comparable | None], events: Iterable[Any],
              version: Comparable) -> bool:
    from_start = False
    points: list[tuple[Comparable, int, str]] = []
    limits: list[Comparable] = []
    for event in events:
        if not isinstance(event, Mapping):
            return False
        for kind, text in event.items():
            text = str(text)
            if kind == "introduced" and text == "0":
                from_start = True
            elif kind == "limit":
                if text != "*":
                    parsed = parse(text)
                    if parsed is None:
                        return False
                    limits.append(parsed)
            elif kind in _ORDER:
                parsed = parse(text)
                if parsed is None:
                    return False  # a range we cannot read must not guess
                points.append((parsed, _ORDER[kind], kind))
    points.sort(key=lambda p: (p[0], p[1]))
    affected = from_start
    for point, _, kind in points:
        if kind == "introduced":
            if version >= point:
                affected = True
        elif kind == "fixed":
            if version >= point:
                affected = False
        elif version > point:
            affected = False
    if limits and not any(version < limit for limit in limits):
        return False
    return affected


def is_affected(ecosystem: str, entries: Sequence[Entry], installed: str) -> bool:
    """True when ``installed`` is in an entry's ``versions`` or inside one of its ranges."""
    eco_version = parse_version(ecosystem, installed)
    for entry in entries:
        for listed in entry.get("versions") or ():
            if listed == installed:
                return True
            parsed = parse_version(ecosystem, listed)
            if eco_version is not None and parsed is not None and parsed == eco_version:
                return True
        for rng in entry.get("ranges") or ():
            kind = rng.get("type")
            if kind == "SEMVER":
                version = parse_semver_range_version(installed)
            elif kind == "ECOSYSTEM":
                version = eco_version
            else:
                continue  # GIT ranges name commits, not versions
            if version is not None and _in_range(_parser(ecosystem, kind), rng["events"], version):
                return True
    return False


def lowest_fix_above(ecosystem: str, entries: Iterable[Entry], installed: str) -> str | None:
    """The lowest ``fixed`` version above ``installed`` named by any of ``entries``."""
    current = parse_version(ecosystem, installed)
    if current is None:
        return None
    best: tuple[Comparable, str] | None = None
    for entry in entries:
        for rng in entry.get("ranges") or ():
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue
            for event in rng.get("events") or ():
                text = event.get("fixed") if isinstance(event, Mapping) else None
                if text is None:
                    continue
                parsed = parse_version(ecosystem, str(text))
                if parsed is not None and parsed > current and (best is None or parsed < best[0]):
                    best = (parsed, str(text))
    return best[1] if best else None

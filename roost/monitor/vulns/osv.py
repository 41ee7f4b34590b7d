"""OSV records: what we keep of them, and whether a version is affected."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roost.monitor.vulns.cvss import base_score, level_for_score, normalise_level
from roost.monitor.vulns.matcher import (
    affects,
    decode,
    lowest_fix,
    matcher_json,
)
from roost.monitor.vulns.versions import base_ecosystem, normalise_name

RawEntry = Mapping[str, Any]  # one OSV ``affected`` entry, reduced to versions and ranges


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


def is_affected(ecosystem: str, entries: Sequence[RawEntry], installed: str) -> bool:
    """True when ``installed`` is in an entry's ``versions`` or inside one of its ranges.

    The entries go through the stored form (compiled, JSON, decoded), as a scan sees them.
    """
    return affects(ecosystem, decode(matcher_json(ecosystem, entries)), installed)


def lowest_fix_above(ecosystem: str, entries: Iterable[RawEntry], installed: str) -> str | None:
    """The lowest ``fixed`` version above ``installed`` named by any of ``entries``."""
    return lowest_fix(ecosystem, [decode(matcher_json(ecosystem, entries))], installed)

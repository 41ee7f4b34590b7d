"""Loading the advisories that concern a set of packages, in as few queries as possible."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from roost.monitor.vulns.matcher import Entry, compile_json
from roost.store.models.vulns import Advisory, AdvisoryPackage

Key = tuple[str, str]
CHUNK = 500  # stays far below SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class IndexedAdvisory:
    """A live (not withdrawn) advisory as it applies to one package."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str | None
    score: float | None
    entries: tuple[Entry, ...]


@lru_cache(maxsize=65536)
def _aliases_text(text: str) -> tuple[str, ...]:
    return tuple(orjson.loads(text) or ())


def _aliases(raw: Any) -> tuple[str, ...]:
    # Read as text to skip the ORM's per-row JSON processing (PostgreSQL's driver may
    # hand back a list already).
    if isinstance(raw, str):
        return _aliases_text(raw)
    return tuple(raw or ())


def load_advisories(session: Session, keys: Iterable[Key]) -> dict[Key, list[IndexedAdvisory]]:
    """Live advisories for each (ecosystem, name) key that has any."""
    by_eco: dict[str, set[str]] = defaultdict(set)
    for eco, name in keys:
        by_eco[eco].add(name)
    out: dict[Key, list[IndexedAdvisory]] = defaultdict(list)
    for eco, names in by_eco.items():
        ordered = sorted(names)
        for start in range(0, len(ordered), CHUNK):
            rows = session.execute(
                select(AdvisoryPackage.name, AdvisoryPackage.affected, Advisory.id,
                       type_coerce(Advisory.aliases, Text), Advisory.summary,
                       Advisory.severity, Advisory.score)
                .join(Advisory, Advisory.id == AdvisoryPackage.advisory_id)
                .where(AdvisoryPackage.ecosystem == eco,
                       AdvisoryPackage.name.in_(ordered[start : start + CHUNK]),
                       Advisory.withdrawn.is_(None))
            )
            for name, affected, adv_id, aliases, summary, severity, score in rows:
                out[(eco, name)].append(IndexedAdvisory(
                    adv_id, _aliases(aliases), summary, severity, score,
                    compile_json(eco, affected),
                ))
    return dict(out)

"""Loading the advisories that concern a set of packages, in as few queries as possible."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import orjson
from sqlalchemy import ColumnElement, Table, Text, case, select, type_coerce
from sqlalchemy.orm import Session

from roost.monitor.vulns.lockfiles.base import Dependency
from roost.monitor.vulns.matcher import (
    FORMAT,
    affects,
    decode,
    unread_ranges,
    usable_matcher_json,
)
from roost.store.models.vulns import Advisory, AdvisoryPackage

Key = tuple[str, str]
CHUNK = 500  # stays far below SQLite's bound-parameter limit
# Core tables, not ORM entities: a scan needs plain rows, and skipping the ORM's statement
# and mapper set-up saves a cold process (``roost vulns scan``) tens of milliseconds.
_PACKAGES = cast(Table, AdvisoryPackage.__table__)
_ADVISORIES = cast(Table, Advisory.__table__)


@dataclass(frozen=True, slots=True)
class IndexedAdvisory:
    """A live (not withdrawn) advisory as it applies to one package; ``matcher`` is the JSON
    text of its compiled matcher (``roost.monitor.vulns.matcher``)."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str | None
    score: float | None
    matcher: str


def stale_matcher() -> ColumnElement[bool]:
    """Index rows whose stored matcher is missing (written before matchers were stored) or
    in another format than this Roost's."""
    return _PACKAGES.c.matcher.is_(None) | _PACKAGES.c.matcher.not_like(f"[{FORMAT},%")


@lru_cache(maxsize=65536)
def _aliases_text(text: str) -> tuple[str, ...]:
    return tuple(orjson.loads(text) or ())


def _aliases(raw: Any) -> tuple[str, ...]:
    # Read as text to skip the ORM's per-row JSON processing (PostgreSQL's driver may
    # hand back a list already).
    if isinstance(raw, str):
        return _aliases_text(raw)
    return tuple(raw or ())


def installed_versions(deps: Iterable[Dependency]) -> dict[Key, set[str]]:
    """The versions to check per package key (dependencies with an exact version)."""
    out: dict[Key, set[str]] = defaultdict(set)
    for d in deps:
        if d.evaluated:
            out[d.key].add(d.version)
    return dict(out)


def _chunks(names: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(names))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def _matchers(session: Session, versions: Mapping[Key, Collection[str]], unread_only: bool
              ) -> list[tuple[str, str, str, str]]:
    """(ecosystem, name, advisory id, matcher text) of the index rows of each package in
    ``versions`` that affect one of its installed versions or have a range Roost cannot
    read (only the latter when ``unread_only``)."""
    by_eco: dict[str, set[str]] = defaultdict(set)
    for eco, name in versions:
        by_eco[eco].add(name)
    c = _PACKAGES.c
    # The raw entries only where the stored matcher cannot be used as it is.
    legacy = case((stale_matcher(), c.affected), else_=None)
    found: list[tuple[str, str, str, str]] = []
    for eco, names in by_eco.items():
        for chunk in _chunks(names):
            query = (select(c.name, c.advisory_id, c.matcher, legacy)
                     .where(c.ecosystem == eco, c.name.in_(chunk)))
            if unread_only:
                query = query.where(c.not_evaluated.is_not(None) | stale_matcher())
            for name, adv_id, stored, affected in session.execute(query):
                matcher = usable_matcher_json(eco, stored, affected)
                decoded = decode(matcher)
                if not unread_ranges(decoded) and (unread_only or not any(
                        affects(eco, decoded, v) for v in versions.get((eco, name), ()))):
                    continue
                found.append((eco, name, adv_id, matcher))
    return found


def load_advisories(session: Session, versions: Mapping[Key, Collection[str]], *,
                    unread_only: bool = False) -> dict[Key, list[IndexedAdvisory]]:
    """Live advisories of each package in ``versions`` (see installed_versions) that affect
    one of its installed versions, or that have a range Roost cannot read (reported as not
    evaluated): the rest could not produce a finding, and a scan need not keep them.

    ``unread_only`` keeps only the latter (an app's stored report asks for those).
    """
    found = _matchers(session, versions, unread_only)
    c = _ADVISORIES.c
    live: dict[str, tuple[tuple[str, ...], str, str | None, float | None]] = {}
    for chunk in _chunks(adv_id for _, _, adv_id, _ in found):
        rows = session.execute(
            select(c.id, type_coerce(c.aliases, Text), c.summary, c.severity, c.score)
            .where(c.id.in_(chunk), c.withdrawn.is_(None))
        )
        for adv_id, aliases, summary, severity, score in rows:
            live[adv_id] = (_aliases(aliases), summary, severity, score)
    out: dict[Key, list[IndexedAdvisory]] = defaultdict(list)
    for eco, name, adv_id, matcher in sorted(found, key=lambda f: (f[0], f[1], f[2])):
        if adv_id in live:
            aliases, summary, severity, score = live[adv_id]
            out[(eco, name)].append(
                IndexedAdvisory(adv_id, aliases, summary, severity, score, matcher))
    return dict(out)

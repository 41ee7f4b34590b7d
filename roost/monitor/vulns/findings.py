"""Matching dependencies against advisories, one finding per package and alias group."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from roost.monitor.vulns.cvss import level_rank
from roost.monitor.vulns.index import IndexedAdvisory, Key
from roost.monitor.vulns.lockfiles.base import Dependency
from roost.monitor.vulns.matcher import affects, decode, lowest_fix, unread_ranges
from roost.monitor.vulns.versions import parse_version

_ID_PREFERENCE = ("CVE-", "GHSA-")


@dataclass
class Location:
    """Where an affected version is installed."""

    lockfile: str
    version: str
    line: int | None
    dev: bool


@dataclass
class Finding:
    """One vulnerable package of an app, for one flaw (all its ids)."""

    ecosystem: str
    package: str
    version: str
    lockfile: str
    ids: list[str]
    summary: str
    severity: str | None
    score: float | None
    fixed: str | None
    dev: bool
    line: int | None = None
    locations: list[Location] = field(default_factory=list)
    first_seen: datetime | None = None
    new: bool = False
    ignored: bool = False

    @property
    def id(self) -> str:
        """The id to show first: a CVE if there is one, then a GHSA, then any."""
        for prefix in _ID_PREFERENCE:
            for i in self.ids:
                if i.startswith(prefix):
                    return i
        return self.ids[0]

    @property
    def key(self) -> Key:
        """The (ecosystem, package) index key."""
        return (self.ecosystem, self.package)


@dataclass
class NotEvaluated:
    """A dependency that could not be checked, or (``id`` set) an advisory that could not be
    checked against it because one of its ranges cannot be read; ``reason`` says why."""

    ecosystem: str
    package: str
    version: str
    lockfile: str
    line: int | None
    reason: str
    id: str | None = None


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_advisories(advisories: Iterable[IndexedAdvisory]) -> list[list[IndexedAdvisory]]:
    """Partition advisories into alias groups (PYSEC, GHSA, CVE of one flaw together)."""
    advisories = list(advisories)
    uf = _UnionFind()
    for adv in advisories:
        for alias in adv.aliases:
            uf.union(adv.id, alias)
        uf.find(adv.id)
    groups: dict[str, list[IndexedAdvisory]] = defaultdict(list)
    for adv in advisories:
        groups[uf.find(adv.id)].append(adv)
    return [groups[k] for k in sorted(groups)]


def _highest(ecosystem: str, deps: Sequence[Dependency]) -> Dependency:
    return max(deps, key=lambda d: parse_version(ecosystem, d.version))  # type: ignore[arg-type,return-value]


def _finding(ecosystem: str, package: str, group: list[IndexedAdvisory],
             hits: list[Dependency]) -> Finding:
    ids = sorted({i for adv in group for i in (adv.id, *adv.aliases)})
    # Summaries from GHSA records read best; fall back to any record's.
    by_pref = sorted(group, key=lambda a: (not a.id.startswith("GHSA-"), not a.summary, a.id))
    worst = max(group, key=lambda a: (level_rank(a.severity), a.score or 0.0))
    hits = sorted(hits, key=lambda d: (parse_version(ecosystem, d.version) is None, d.lockfile))
    top = _highest(ecosystem, hits)
    return Finding(
        ecosystem=ecosystem, package=package, version=top.version, lockfile=top.lockfile,
        line=top.line, ids=ids, summary=by_pref[0].summary, severity=worst.severity,
        score=max((a.score for a in group if a.score is not None), default=None),
        fixed=lowest_fix(ecosystem, [decode(adv.matcher) for adv in group], top.version),
        dev=all(d.dev for d in hits),
        locations=[Location(d.lockfile, d.version, d.line, d.dev) for d in hits],
    )


def checkable(dependencies: Sequence[Dependency]
              ) -> tuple[dict[Key, list[Dependency]], list[NotEvaluated]]:
    """The dependencies that can be checked, by package key (repeats dropped), and the rest
    with the reason: no exact version in the lockfile, or one the ecosystem cannot parse."""
    not_evaluated: list[NotEvaluated] = []
    by_key: dict[Key, list[Dependency]] = defaultdict(list)
    seen: set[tuple[str, str, str, str]] = set()
    for d in dependencies:
        marker = (d.ecosystem, d.name, d.version, d.lockfile)
        if marker in seen:
            continue
        seen.add(marker)
        if not d.evaluated:
            not_evaluated.append(NotEvaluated(d.ecosystem, d.name, d.version, d.lockfile,
                                              d.line, d.note))
        elif parse_version(d.ecosystem, d.version) is None:
            not_evaluated.append(NotEvaluated(d.ecosystem, d.name, d.version, d.lockfile,
                                              d.line, f"cannot parse version {d.version!r}"))
        else:
            by_key[d.key].append(d)
    return by_key, not_evaluated


def match(dependencies: Sequence[Dependency], advisories: Mapping[Key, list[IndexedAdvisory]]
          ) -> tuple[list[Finding], list[NotEvaluated]]:
    """Findings (one per package and alias group) and the dependencies not evaluated."""
    by_key, not_evaluated = checkable(dependencies)
    findings: list[Finding] = []
    for key in sorted(by_key):
        candidates = advisories.get(key)
        if not candidates:
            continue
        hits: dict[str, list[Dependency]] = defaultdict(list)
        for adv in candidates:
            matcher = decode(adv.matcher)
            for d in by_key[key]:
                if affects(key[0], matcher, d.version):
                    hits[adv.id].append(d)
        matched = [a for a in candidates if a.id in hits]
        for group in group_advisories(matched):
            deps = {id(d): d for adv in group for d in hits[adv.id]}
            findings.append(_finding(key[0], key[1], group, list(deps.values())))
    found: dict[Key, set[str]] = defaultdict(set)
    for f in findings:
        found[f.key].update(f.ids)
    not_evaluated += unread_advisories(by_key, advisories, found)
    return findings, not_evaluated


def unread_advisories(deps: Mapping[Key, Sequence[Dependency]],
                      advisories: Mapping[Key, list[IndexedAdvisory]],
                      found: Mapping[Key, set[str]]) -> list[NotEvaluated]:
    """Advisories with a range Roost cannot read that are part of no finding of the package
    (``found``: the ids of its findings): not evaluated, with the reason, for the highest
    installed version. The range is left out rather than guessed at."""
    out: list[NotEvaluated] = []
    for key in sorted(deps):
        for adv in advisories.get(key, ()):
            reasons = unread_ranges(decode(adv.matcher))
            if not reasons or found.get(key, set()).intersection((adv.id, *adv.aliases)):
                continue
            top = _highest(key[0], deps[key])
            out.append(NotEvaluated(key[0], key[1], top.version, top.lockfile, top.line,
                                    "; ".join(reasons), adv.id))
    return out

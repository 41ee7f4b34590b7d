"""Scans: a directory with no app, an app's lockfiles (stored), and re-scans on DB changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from roost.errors import InvalidInput, NotFound
from roost.monitor.vulns.db import is_empty
from roost.monitor.vulns.findings import (
    Finding,
    Location,
    NotEvaluated,
    checkable,
    match,
    unread_advisories,
)
from roost.monitor.vulns.ignores import ignored_ids
from roost.monitor.vulns.index import (
    CHUNK,
    IndexedAdvisory,
    Key,
    installed_versions,
    load_advisories,
)
from roost.monitor.vulns.lockfiles import find_lockfiles, parse_lockfile
from roost.monitor.vulns.lockfiles.base import Dependency
from roost.store.base import utcnow
from roost.store.models.vulns import AppDependency, VulnFinding

# Core tables for the scan path: plain rows and bulk statements, without the ORM's mapper
# set-up and session synchronisation (a build's scan runs in a fresh process).
_DEPS = cast(Table, AppDependency.__table__)
_FINDINGS = cast(Table, VulnFinding.__table__)


@dataclass
class ScanReport:
    """The outcome of a scan; ``findings`` includes ignored ones (flagged)."""

    app_name: str | None
    lockfiles: list[str]
    dependencies: int
    findings: list[Finding] = field(default_factory=list)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)

    @property
    def active(self) -> list[Finding]:
        """Findings not covered by an active ignore."""
        return [f for f in self.findings if not f.ignored]

    @property
    def new(self) -> list[Finding]:
        """Findings first seen in this scan and not ignored: the ones to notify about."""
        return [f for f in self.findings if f.new and not f.ignored]

    @property
    def exit_code(self) -> int:
        """0 when nothing needs attention, 1 when there are (unignored) findings."""
        return 1 if self.active else 0


def collect(path: Path) -> tuple[list[str], list[Dependency]]:
    """Lockfile names and dependencies of a lockfile or of every lockfile under a directory."""
    if path.is_file():
        return [path.name], parse_lockfile(path, path.parent)
    if not path.is_dir():
        raise InvalidInput(f"{path}: no such file or directory")
    files = find_lockfiles(path)
    deps: list[Dependency] = []
    for file in files:
        deps.extend(parse_lockfile(file, path))
    return [f.relative_to(path).as_posix() for f in files], deps


def _advisories_of(session: Session, deps: Sequence[Dependency]
                   ) -> dict[Key, list[IndexedAdvisory]]:
    # Only advisories that affect an installed version: the others cannot become findings.
    return load_advisories(session, installed_versions(deps))


def ensure_database(session: Session) -> None:
    """Refuse to scan against an empty advisory database (it would report nothing)."""
    if is_empty(session):
        raise NotFound("the advisory database is empty: run `roost vulns db update` first")


def scan_directory(path: Path, session: Session) -> ScanReport:
    """Scan a lockfile or directory without storing anything (``roost vulns scan PATH``)."""
    ensure_database(session)
    names, deps = collect(path)
    findings, not_evaluated = match(deps, _advisories_of(session, deps))
    return ScanReport(None, names, len(deps), findings, not_evaluated)


def _store_dependencies(session: Session, app_name: str, deps: Sequence[Dependency]) -> None:
    session.execute(delete(_DEPS).where(_DEPS.c.app_name == app_name))
    if deps:
        session.execute(insert(_DEPS), [
            {"app_name": app_name, "ecosystem": d.ecosystem, "name": d.name,
             "version": d.version[:255], "lockfile": d.lockfile, "line": d.line, "dev": d.dev,
             "evaluated": d.evaluated, "note": d.note[:255]}
            for d in deps
        ])


_FIELDS = ("ids", "version", "lockfile", "line", "summary", "severity", "score", "fixed", "dev")


def _values(f: Finding) -> dict[str, object]:
    return {"ids": f.ids, "version": f.version[:255], "lockfile": f.lockfile, "line": f.line,
            "summary": f.summary, "severity": f.severity, "score": f.score, "fixed": f.fixed,
            "dev": f.dev}


def _stored_findings(session: Session, app_name: str, scope: set[Key] | None
                     ) -> list[dict[str, Any]]:
    c = _FINDINGS.c
    columns = [c.id, c.ecosystem, c.package, c.first_seen] + [c[name] for name in _FIELDS]
    base = select(*columns).where(c.app_name == app_name)
    if scope is None:
        return [dict(r._mapping) for r in session.execute(base)]
    names = sorted({name for _, name in scope})
    rows: list[dict[str, Any]] = []
    for start in range(0, len(names), CHUNK):
        query = base.where(c.package.in_(names[start : start + CHUNK]))
        rows.extend(dict(r._mapping) for r in session.execute(query)
                    if (r.ecosystem, r.package) in scope)
    return rows


def _reconcile(session: Session, app_name: str, findings: list[Finding],
               scope: set[Key] | None, now: datetime) -> None:
    """Update stored findings: keep ``first_seen`` for known flaws, mark the rest new.

    Plain bulk statements rather than ORM objects: an app can have thousands of findings.
    """
    stored = _stored_findings(session, app_name, scope)
    by_key: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for row in stored:
        by_key[(row["ecosystem"], row["package"])].append(row)
    used: set[int] = set()
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    touched: list[int] = []
    for f in findings:
        ids = set(f.ids)
        rows = [r for r in by_key[f.key] if r["id"] not in used and ids.intersection(r["ids"])]
        values = _values(f)
        if not rows:
            inserts.append({"app_name": app_name, "ecosystem": f.ecosystem,
                            "package": f.package, "first_seen": now, "last_seen": now,
                            **values})
            f.first_seen, f.new = now, True
            continue
        # Two stored findings can merge when a new alias links their groups.
        keep = min(rows, key=lambda r: r["first_seen"])
        used.update(r["id"] for r in rows)
        f.first_seen, f.new = keep["first_seen"], False
        if any(keep[k] != v for k, v in values.items()):
            updates.append({"finding_id": keep["id"], "last_seen": now, **values})
        else:
            touched.append(keep["id"])
    kept = set(touched) | {u["finding_id"] for u in updates}
    gone = [r["id"] for r in stored if r["id"] not in kept]
    c = _FINDINGS.c
    for start in range(0, len(gone), CHUNK):
        session.execute(delete(_FINDINGS).where(c.id.in_(gone[start : start + CHUNK])))
    for start in range(0, len(touched), CHUNK):
        session.execute(update(_FINDINGS).where(c.id.in_(touched[start : start + CHUNK]))
                        .values(last_seen=now))
    if updates:
        session.execute(update(_FINDINGS).where(c.id == bindparam("finding_id")), updates)
    if inserts:
        session.execute(insert(_FINDINGS), inserts)


def _mark_ignored(session: Session, app_name: str, findings: Iterable[Finding],
                  now: datetime) -> None:
    ignored = ignored_ids(session, app_name, now)
    for f in findings:
        f.ignored = bool(ignored.intersection(f.ids))


def scan_app(session: Session, app_name: str, lockfiles: Sequence[Path],
             root: Path | None = None, now: datetime | None = None) -> ScanReport:
    """Scan an app's lockfiles, store its dependencies and findings; ``new`` says what to send.

    Lockfile paths are recorded relative to ``root`` when given (the app's build directory),
    and no ``-r`` include is followed out of it.
    """
    now = now or utcnow()
    deps: list[Dependency] = []
    for path in lockfiles:
        deps.extend(parse_lockfile(path, root, confined=root is not None))
    findings, not_evaluated = match(deps, _advisories_of(session, deps))
    _store_dependencies(session, app_name, deps)
    _reconcile(session, app_name, findings, None, now)
    _mark_ignored(session, app_name, findings, now)
    names = [str(p.relative_to(root)) if root else str(p) for p in lockfiles]
    return ScanReport(app_name, names, len(deps), findings, not_evaluated)


def scan_app_directory(session: Session, app_name: str, directory: Path,
                       now: datetime | None = None) -> ScanReport:
    """scan_app over every lockfile found under ``directory`` (a built app)."""
    return scan_app(session, app_name, find_lockfiles(directory), directory, now)


def _stored_dependencies(session: Session, keys: Iterable[Key]) -> dict[str, list[Dependency]]:
    by_eco: dict[str, list[str]] = defaultdict(list)
    for eco, name in set(keys):
        by_eco[eco].append(name)
    by_app: dict[str, list[Dependency]] = defaultdict(list)
    for eco, names in by_eco.items():
        names.sort()
        for start in range(0, len(names), CHUNK):
            c = _DEPS.c
            rows = session.execute(
                select(c.app_name, c.name, c.version, c.lockfile, c.dev, c.line, c.evaluated,
                       c.note)
                .where(c.ecosystem == eco, c.name.in_(names[start : start + CHUNK]))
            )
            for app, name, version, lockfile, dev, line, evaluated, note in rows:
                by_app[app].append(Dependency(eco, name, version, lockfile, dev, line,
                                              evaluated, note))
    return by_app


def rescan_affected(session: Session, changed_keys: Iterable[Key],
                    now: datetime | None = None) -> dict[str, ScanReport]:
    """Re-match, from stored dependency lists, only the apps using a changed package.

    Findings of other packages cannot change, so only the changed keys are re-evaluated.
    """
    now = now or utcnow()
    keys = set(changed_keys)
    by_app = _stored_dependencies(session, keys)
    advisories = _advisories_of(session, [d for deps in by_app.values() for d in deps])
    reports: dict[str, ScanReport] = {}
    for app_name in sorted(by_app):
        deps = by_app[app_name]
        findings, not_evaluated = match(deps, advisories)
        _reconcile(session, app_name, findings, keys, now)
        _mark_ignored(session, app_name, findings, now)
        lockfiles = sorted({d.lockfile for d in deps})
        reports[app_name] = ScanReport(app_name, lockfiles, len(deps), findings, not_evaluated)
    return reports


def _unread(session: Session, by_key: Mapping[Key, list[Dependency]],
            findings: Sequence[Finding]) -> list[NotEvaluated]:
    """Advisories of the app's packages with a range Roost cannot read (see match)."""
    if not by_key:
        return []
    versions = {key: {d.version for d in deps} for key, deps in by_key.items()}
    advisories = load_advisories(session, versions, unread_only=True)
    found: dict[Key, set[str]] = defaultdict(set)
    for f in findings:
        found[f.key].update(f.ids)
    return unread_advisories(by_key, advisories, found)


def app_report(session: Session, app_name: str, now: datetime | None = None) -> ScanReport:
    """An app's stored findings (as of its last scan), ignores applied (``roost vulns APP``);
    advisories that could not be evaluated are read from the current database."""
    now = now or utcnow()
    c = _DEPS.c
    deps = [Dependency(eco, name, version, lockfile, dev, line, evaluated, note)
            for eco, name, version, lockfile, dev, line, evaluated, note in session.execute(
                select(c.ecosystem, c.name, c.version, c.lockfile, c.dev, c.line, c.evaluated,
                       c.note).where(c.app_name == app_name))]
    rows = session.scalars(select(VulnFinding).where(VulnFinding.app_name == app_name)
                           .order_by(VulnFinding.ecosystem, VulnFinding.package)).all()
    findings = [
        Finding(r.ecosystem, r.package, r.version, r.lockfile, list(r.ids), r.summary,
                r.severity, r.score, r.fixed, r.dev, r.line,
                [Location(r.lockfile, r.version, r.line, r.dev)], r.first_seen)
        for r in rows
    ]
    _mark_ignored(session, app_name, findings, now)
    by_key, not_evaluated = checkable(deps)
    not_evaluated += _unread(session, by_key, findings)
    return ScanReport(app_name, sorted({d.lockfile for d in deps}), len(deps), findings,
                      not_evaluated)

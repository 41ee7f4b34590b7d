"""The advisory database: importing OSV records (directory, zip, URL) and its statistics."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput, ParseError, RoostError
from roost.monitor.vulns.index import stale_matcher
from roost.monitor.vulns.matcher import compile_entries, unread_ranges
from roost.monitor.vulns.osv import RecordSummary, summarise
from roost.store.base import utcnow
from roost.store.models.vulns import Advisory, AdvisoryPackage, AdvisorySource
from roost.store.session import transaction

BATCH = 500
Key = tuple[str, str]


@dataclass
class ImportResult:
    """What an import did: record counts and the (ecosystem, package) keys it changed."""

    sources: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_keys: set[Key] = field(default_factory=set)

    def merge(self, other: ImportResult) -> None:
        """Add another import's counts and keys to this one."""
        self.sources += other.sources
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.changed_keys |= other.changed_keys


@dataclass
class DbStats:
    """Counts per ecosystem (withdrawn records excluded) and the last import."""

    per_ecosystem: dict[str, int]
    total: int
    withdrawn: int
    last_update: datetime | None
    sources: list[tuple[str, datetime, int]]


def _zip_members(path: Path, shown: str) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".json") and not info.is_dir():
                    yield f"{shown}!{info.filename}", archive.read(info)
    except zipfile.BadZipFile as exc:
        raise ParseError(shown, None, f"not a zip archive: {exc}") from exc


def _download(url: str, into: Path) -> None:
    import httpx  # only imports from a URL need it; a scan should not pay for it

    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            if response.status_code != 200:
                raise RoostError(f"cannot download {url}: HTTP {response.status_code}",
                                 code="advisory_source_failed")
            with into.open("wb") as out:
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise RoostError(f"cannot download {url}: {exc}", code="advisory_source_failed") from exc


def iter_source(source: str | Path) -> Iterator[tuple[str, bytes]]:
    """(name, JSON bytes) for every record file of a directory, zip, JSON file or URL."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        with tempfile.TemporaryDirectory(prefix="roost-osv-") as tmp:
            target = Path(tmp) / "all.zip"
            _download(text, target)
            yield from _zip_members(target, text)
        return
    path = Path(source)
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield str(file), file.read_bytes()
    elif path.is_file() and zipfile.is_zipfile(path):
        yield from _zip_members(path, text)
    elif path.is_file():
        yield text, path.read_bytes()
    else:
        raise InvalidInput(f"advisory source {text!r} is not a directory, zip, JSON file or URL")


def _summaries(files: Iterable[tuple[str, bytes]]) -> Iterator[tuple[RecordSummary, bytes]]:
    for name, content in files:
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise ParseError(name, exc.lineno, exc.msg) from exc
        for record in data if isinstance(data, list) else [data]:
            try:
                yield summarise(record), orjson.dumps(record)
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                raise ParseError(name, None, f"not an OSV record: {exc!r}") from exc


def _compiled(ecosystem: str, entries: list[dict[str, Any]]) -> dict[str, str | None]:
    """The stored matcher of an index row, and why a range was left out (None if none was)."""
    matcher = compile_entries(ecosystem, entries)
    return {"matcher": orjson.dumps(matcher).decode(),
            "not_evaluated": "; ".join(unread_ranges(matcher)) or None}


def _store_batch(session: Session, batch: list[tuple[RecordSummary, bytes]],
                 result: ImportResult) -> None:
    newest: dict[str, tuple[RecordSummary, bytes]] = {}
    for summary, raw in batch:
        if summary.id not in newest or newest[summary.id][0].modified < summary.modified:
            newest[summary.id] = (summary, raw)
    existing = dict(session.execute(
        select(Advisory.id, Advisory.modified).where(Advisory.id.in_(list(newest)))
    ).all())
    replace = [i for i, (s, _) in newest.items() if i in existing and s.modified > existing[i]]
    fresh = [i for i in newest if i not in existing]
    result.unchanged += len(newest) - len(replace) - len(fresh)
    result.added += len(fresh)
    result.updated += len(replace)
    if replace:
        old_keys = session.execute(
            select(AdvisoryPackage.ecosystem, AdvisoryPackage.name)
            .where(AdvisoryPackage.advisory_id.in_(replace))
        ).all()
        result.changed_keys.update(old_keys)
        session.execute(delete(AdvisoryPackage).where(AdvisoryPackage.advisory_id.in_(replace)))
        session.execute(delete(Advisory).where(Advisory.id.in_(replace)))
    write = [newest[i] for i in (*replace, *fresh)]
    if not write:
        return
    session.execute(insert(Advisory), [
        {"id": s.id, "ecosystems": sorted({k[0] for k in s.packages}), "modified": s.modified,
         "withdrawn": s.withdrawn, "aliases": list(s.aliases), "summary": s.summary,
         "severity": s.severity, "score": s.score, "raw": raw.decode()}
        for s, raw in write
    ])
    packages = [
        {"ecosystem": key[0], "name": key[1], "advisory_id": s.id,
         "affected": orjson.dumps(entries).decode(), **_compiled(key[0], entries)}
        for s, _ in write for key, entries in s.packages.items()
    ]
    if packages:
        session.execute(insert(AdvisoryPackage), packages)
    result.changed_keys.update(key for s, _ in write for key in s.packages)


def import_records(session: Session, files: Iterable[tuple[str, bytes]],
                   source: str) -> ImportResult:
    """Upsert records by id (only when ``modified`` is newer) inside the caller's transaction."""
    result = ImportResult(sources=[source])
    stream = _summaries(files)
    total = 0
    while batch := list(islice(stream, BATCH)):
        _store_batch(session, batch, result)
        total += len(batch)
    compile_missing_matchers(session)
    row = session.get(AdvisorySource, source)
    if row is None:
        session.add(AdvisorySource(source=source, imported_at=utcnow(), records=total))
    else:
        row.imported_at, row.records = utcnow(), total
    session.flush()
    return result


def import_path(session_factory: sessionmaker[Session], source: str | Path) -> ImportResult:
    """Import a directory of OSV JSON files, an OSV ``all.zip``, or an http(s) URL to one.

    The whole import is one transaction: a malformed record leaves the database unchanged.
    """
    with transaction(session_factory) as session:
        return import_records(session, iter_source(source), str(source))


def update_from_sources(session_factory: sessionmaker[Session],
                        sources: Sequence[str]) -> ImportResult:
    """Re-import each of ``sources`` (the server's ``settings.advisory_sources``)."""
    total = ImportResult()
    for source in sources:
        total.merge(import_path(session_factory, source))
    return total


def stats(session: Session) -> DbStats:
    """Record counts per ecosystem, withdrawn count and the last import time."""
    per_eco: dict[str, int] = {}
    withdrawn = 0
    for ecos, is_withdrawn in session.execute(
        select(Advisory.ecosystems, Advisory.withdrawn.is_not(None))
    ):
        if is_withdrawn:
            withdrawn += 1
            continue
        for eco in ecos:
            per_eco[eco] = per_eco.get(eco, 0) + 1
    total = session.scalar(select(func.count()).select_from(Advisory)) or 0
    sources = [
        (s.source, s.imported_at, s.records)
        for s in session.scalars(select(AdvisorySource).order_by(AdvisorySource.source))
    ]
    last = max((s[1] for s in sources), default=None)
    return DbStats(dict(sorted(per_eco.items())), total, withdrawn, last, sources)


def is_empty(session: Session) -> bool:
    """True when no advisory has been imported yet."""
    table = cast(Table, Advisory.__table__)  # Core: a cold ``roost vulns scan`` asks this first
    return session.execute(select(table.c.id).limit(1)).first() is None


def compile_missing_matchers(session: Session) -> int:
    """Compile the matcher of index rows stored without one, or in an older format (an index
    written by an earlier Roost); returns how many rows were compiled."""
    table = cast(Table, AdvisoryPackage.__table__)
    c = table.c
    rows = session.execute(
        select(c.ecosystem, c.name, c.advisory_id, c.affected).where(stale_matcher())
    ).all()
    write = update(table).where(c.ecosystem == bindparam("eco"), c.name == bindparam("pkg"),
                                c.advisory_id == bindparam("adv"))
    for start in range(0, len(rows), BATCH):
        session.execute(write, [
            {"eco": eco, "pkg": name, "adv": adv, **_compiled(eco, orjson.loads(raw))}
            for eco, name, adv, raw in rows[start : start + BATCH]
        ])
    return len(rows)

"""Proven backups: restore one into a scratch database and compare it with its source.

What is compared was recorded at capture from pg_dump's own snapshot: the exact row count
of every table and the sha256 of the normalised schema. A dump that does not restore
(truncated, corrupted), restores to no tables where the source had some (the "empty
111-byte backup"), or restores to different counts or schema fails, with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from roost.addons.postgres import backups, pgtools
from roost.addons.postgres.backups import BackupRecord
from roost.addons.postgres.server import Server
from roost.errors import NotFound, RoostError
from roost.objectstore import ObjectStore
from roost.store.base import utcnow

SCRATCH_PREFIX = "roost_verify"


@dataclass(frozen=True)
class Verdict:
    """The outcome of one verification."""

    ok: bool
    reason: str = ""


def _hashed(chunks: Iterator[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def compare(expected: dict[str, int], found: dict[str, int], schema_expected: str,
            schema_found: str) -> str:
    """Why a restored database differs from its source ("" when it does not)."""
    if expected and not found:
        return (f"the backup is empty: it restores no tables, the source had {len(expected)} "
                f"({sum(expected.values())} rows)")
    missing = sorted(set(expected) - set(found))
    if missing:
        return f"tables missing from the backup: {', '.join(missing[:5])}"
    extra = sorted(set(found) - set(expected))
    if extra:
        return f"tables in the backup that the source did not have: {', '.join(extra[:5])}"
    for table in sorted(expected):
        if expected[table] != found[table]:
            return (f"{table} has {found[table]} rows in the backup, {expected[table]} in the "
                    "source at capture")
    if schema_expected and schema_expected != schema_found:
        return "the schema restored from the backup differs from the source's at capture"
    return ""


def check(server: Server, objects: ObjectStore, record: BackupRecord) -> Verdict:
    """Restore ``record`` into a scratch database on ``server`` and compare it."""
    if objects.head(record.object_key) is None:
        return Verdict(False, f"the backup object {record.object_key} is missing")
    digest = hashlib.sha256()
    scratch = pgtools.create_database(server, SCRATCH_PREFIX)
    try:
        try:
            pgtools.pg_restore(server, scratch, _hashed(objects.stream(record.object_key),
                                                        digest),
                               clean=False, role=None, no_acl=True)
        except pgtools.PgFailure as exc:
            detail = exc.message.partition(", nothing was changed: ")[2] or exc.message
            return Verdict(False, f"the backup does not restore (truncated or corrupted): "
                                  f"{detail}")
        with pgtools.connect(server, scratch) as conn:
            found = pgtools.table_counts(conn)
        schema = pgtools.schema_checksum(server, scratch)
    finally:
        pgtools.drop_database(server, scratch)
    reason = compare(record.table_counts, found, record.schema_sha256, schema)
    if not reason and record.sha256 and digest.hexdigest() != record.sha256:
        reason = "the backup's bytes changed since capture (sha256 differs)"
    return Verdict(not reason, reason)


def verify(server: Server, objects: ObjectStore, sessions: sessionmaker[Session],
           record: BackupRecord) -> BackupRecord:
    """Check ``record`` and store the verdict: ``verified``, or ``failed`` with the reason."""
    if record.status == "capturing":
        raise NotFound(f"backup {record.id} of {record.app} is still being captured")
    try:
        verdict = check(server, objects, record)
    except pgtools.PgFailure:
        raise  # the server, not the backup, failed: nothing is known about the backup
    except RoostError as exc:
        verdict = Verdict(False, str(exc))
    return backups.update(sessions, record.app, record.id,
                          status="verified" if verdict.ok else "failed",
                          reason=verdict.reason, verified_at=utcnow())

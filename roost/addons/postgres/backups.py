"""Logical backups of an app's database: ``pg_dump -Fc`` streamed into the object store.

A backup is recorded in the store with its sha256 and size and, from the same snapshot
``pg_dump`` reads, the exact row count of every table and a checksum of the schema, so
that :mod:`roost.addons.postgres.verify` can later prove that it restores to the same
thing. Objects live at ``addons/postgres/APP/backups/<id>.dump``; ids are ``b001``, ``b002``…
per app.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from roost.addons.postgres import pgtools
from roost.addons.postgres.server import Server, find_bin_dir
from roost.errors import ConfigError, Conflict, InvalidInput, NotFound
from roost.objectstore import ObjectInfo, ObjectStore
from roost.store.base import utcnow
from roost.store.models.pg_backups import PgBackup

CONTENT_TYPE = "application/vnd.postgresql.custom-dump"
ID_RE = re.compile(r"^b(\d{1,9})$")
URL_SECONDS = 3600


@dataclass(frozen=True)
class Target:
    """Where an app's data lives: a server and a database on it."""

    server: Server
    database: str


def server_from_url(admin_url: str) -> Server:
    """A :class:`Server` from its admin URL (``postgresql://USER[:PASS]@HOST:PORT/postgres``)."""
    parts = urlsplit(admin_url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise ConfigError(f"PostgreSQL server URL {admin_url!r}: use "
                          "postgresql://USER[:PASSWORD]@HOST:PORT/postgres")
    return Server(admin_url=admin_url, host=unquote(parts.hostname), port=parts.port or 5432,
                  bin_dir=find_bin_dir())


def target(server: Server, database: str) -> Target:
    """The backup target for ``database`` on ``server``."""
    return Target(server=server, database=database)


def locate(app: str, admin_url: str = "") -> Target:
    """Where ``app``'s database is.

    THE SEAM to the postgres add-on: until its state (server, database name) is wired in
    here, the server is ``admin_url`` (the ``ROOST_PG_SERVER`` setting) and the database
    is named like the app.
    """
    url = admin_url or os.environ.get("ROOST_PG_SERVER", "")
    if not url:
        raise NotFound(f"{app} has no PostgreSQL database: add one with "
                       f"`roost addons add {app} postgres`")
    return target(server_from_url(url), app)


@dataclass(frozen=True)
class BackupRecord:
    """A backup as the CLI, API and verifier see it."""

    app: str
    id: str
    database: str
    trigger: str
    status: str
    reason: str
    object_key: str
    size: int
    sha256: str
    table_counts: dict[str, int] = field(default_factory=dict)
    schema_sha256: str = ""
    created_at: datetime | None = None
    finished_at: datetime | None = None
    verified_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings)."""
        out = dict(vars(self))
        for key in ("created_at", "finished_at", "verified_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def backup_id(number: int) -> str:
    """``b001`` for 1."""
    return f"b{number:03d}"


def parse_id(text: str) -> int:
    """The number in a backup id like ``b007``; one clear line for anything else."""
    match = ID_RE.match(text.strip())
    if not match or int(match.group(1)) < 1:
        raise InvalidInput(f"{text!r} is not a backup id: ids look like b001 "
                           "(`roost pg backups APP` lists them)")
    return int(match.group(1))


def object_key(app: str, bid: str) -> str:
    """Where backup ``bid`` of ``app`` lives in the object store."""
    return f"addons/postgres/{app}/backups/{bid}.dump"


def _record(row: PgBackup) -> BackupRecord:
    return BackupRecord(
        app=row.app, id=backup_id(row.number), database=row.database, trigger=row.trigger,
        status=row.status, reason=row.reason, object_key=row.object_key, size=row.size,
        sha256=row.sha256, table_counts=dict(row.table_counts or {}),
        schema_sha256=row.schema_sha256, created_at=row.created_at,
        finished_at=row.finished_at, verified_at=row.verified_at)


def _row(session: Session, app: str, bid: str) -> PgBackup:
    number = parse_id(bid)
    row = session.scalar(select(PgBackup).where(PgBackup.app == app, PgBackup.number == number))
    if row is None:
        raise NotFound(f"{app} has no backup {backup_id(number)}: "
                       f"`roost pg backups {app}` lists its backups")
    return row


def list_backups(sessions: sessionmaker[Session], app: str) -> list[BackupRecord]:
    """Every backup of ``app``, newest first."""
    with sessions.begin() as session:
        rows = session.scalars(select(PgBackup).where(PgBackup.app == app)
                               .order_by(PgBackup.number.desc()))
        return [_record(r) for r in rows]


def get(sessions: sessionmaker[Session], app: str, bid: str) -> BackupRecord:
    """Backup ``bid`` of ``app``; one clear line when there is none."""
    with sessions.begin() as session:
        return _record(_row(session, app, bid))


def update(sessions: sessionmaker[Session], app: str, bid: str, **values: Any) -> BackupRecord:
    """Change fields of a backup's row and return the new record."""
    with sessions.begin() as session:
        row = _row(session, app, bid)
        for key, value in values.items():
            setattr(row, key, value)
        session.flush()
        return _record(row)


def _reserve(sessions: sessionmaker[Session], app: str, database: str, trigger: str) -> str:
    try:
        with sessions.begin() as session:
            number = (session.scalar(select(func.max(PgBackup.number))
                                     .where(PgBackup.app == app)) or 0) + 1
            bid = backup_id(number)
            session.add(PgBackup(app=app, number=number, database=database, trigger=trigger,
                                 status="capturing", object_key=object_key(app, bid)))
    except IntegrityError as exc:
        raise Conflict(f"another backup of {app} is starting right now; try again") from exc
    return bid


def capture(server: Server, database: str, objects: ObjectStore, app: str, *,
            sessions: sessionmaker[Session], trigger: str = "manual") -> BackupRecord:
    """Dump ``database`` straight into the object store and record what it holds.

    Row counts and the schema checksum come from the snapshot pg_dump reads, so a busy
    database still verifies. A failed dump leaves a ``failed`` row and no object.
    """
    pgtools.owner_of(server, database)  # a missing database is one line, before any row
    bid = _reserve(sessions, app, database, trigger)
    key = object_key(app, bid)
    try:
        info, counts, schema = _dump(server, database, objects, key, app, bid)
    except Exception as exc:
        objects.delete(key)
        update(sessions, app, bid, status="failed", reason=str(exc).splitlines()[0][:2000],
               finished_at=utcnow())
        raise
    return update(sessions, app, bid, status="captured", size=info.size,
                  sha256=info.sha256 or "", table_counts=counts, schema_sha256=schema,
                  finished_at=utcnow())


def _dump(server: Server, database: str, objects: ObjectStore, key: str, app: str,
          bid: str) -> tuple[ObjectInfo, dict[str, int], str]:
    with pgtools.connect(server, database, autocommit=False) as conn:
        # REPEATABLE READ: one snapshot for the counts and both dumps
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = str(conn.execute("SELECT pg_export_snapshot()").fetchone()[0])
        # One core for the counts: pg_dump, compressing, needs the others.
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        dump = pgtools.DumpProcess(server, database, snapshot)
        uploaded: list[ObjectInfo] = []
        failed: list[BaseException] = []

        def upload() -> None:
            try:
                uploaded.append(objects.put_stream(
                    key, dump.stdout, content_type=CONTENT_TYPE,
                    metadata={"app": app, "backup": bid, "database": database}))
            except BaseException as exc:
                failed.append(exc)
                dump.kill()

        thread = threading.Thread(target=upload, name=f"backup {app} {bid}", daemon=True)
        thread.start()
        try:
            counts = pgtools.table_counts(conn)
            schema = pgtools.schema_checksum(server, database, snapshot)
        finally:
            thread.join()
        if failed:
            raise failed[0]
        dump.finish()
        conn.rollback()
    return uploaded[0], counts, schema


def _usable(objects: ObjectStore, record: BackupRecord) -> None:
    if record.status in ("capturing", "failed"):
        why = f": {record.reason}" if record.reason else ""
        raise Conflict(f"backup {record.id} of {record.app} is {record.status}{why}; "
                       "restore another one")
    info = objects.head(record.object_key)
    if info is None:
        raise NotFound(f"backup {record.id} of {record.app} is missing from the object store "
                       f"({record.object_key})")
    if info.size != record.size:
        raise Conflict(f"backup {record.id} of {record.app} is {info.size} bytes in the object "
                       f"store but was {record.size} when captured; it is damaged")


def restore(server: Server, database: str, objects: ObjectStore, record: BackupRecord,
            confirm: str, *, into_app: str | None = None) -> str:
    """Restore ``record`` into ``database`` (the app's own, or ``into_app``'s): objects in
    the dump are dropped and recreated in one transaction, so a failure changes nothing.
    """
    app = into_app or record.app
    if confirm != app:
        raise InvalidInput(f"restoring {record.id} overwrites the database of {app}: repeat "
                           f"the app's name to confirm: --confirm {app}")
    _usable(objects, record)
    owner = pgtools.owner_of(server, database)
    pgtools.pg_restore(server, database, objects.stream(record.object_key), clean=True,
                       role=owner, no_acl=into_app is not None and into_app != record.app)
    source = "" if app == record.app else f" of {record.app}"
    return f"Restored {record.id}{source} into {app}'s database ({database})"


def download(objects: ObjectStore, record: BackupRecord, path: Path | None = None
             ) -> tuple[str, Path | None]:
    """A time-limited URL where the store signs them (and no ``path`` is asked for);
    otherwise the backup written to ``path``. Returns (url or "", path or None)."""
    if record.status == "capturing":
        raise Conflict(f"backup {record.id} of {record.app} is still being captured")
    if path is None and objects.can_sign_urls:
        return objects.url(record.object_key, expires_in=URL_SECONDS), None
    if path is None:
        raise InvalidInput("this object store gives no time-limited URLs: give a file to "
                           "write the backup to (-o FILE)")
    objects.download(record.object_key, path)
    return "", path


def delete(sessions: sessionmaker[Session], objects: ObjectStore, app: str, bid: str) -> None:
    """Remove a backup's object, then its row."""
    record = get(sessions, app, bid)
    objects.delete(record.object_key)
    with sessions.begin() as session:
        session.delete(_row(session, app, bid))

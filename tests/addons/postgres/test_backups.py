"""Logical backups against a real PostgreSQL: capture, a deliberate DROP TABLE, restore."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from roost.addons.postgres import backups
from roost.addons.postgres.server import Server
from roost.errors import InvalidInput, NotFound
from roost.objectstore import ObjectStore
from tests.addons.postgres.conftest import sql


def _counts(server: Server, db: str) -> dict[str, int]:
    rows = sql(server, db, "SELECT 'customers', count(*) FROM customers UNION ALL "
                           "SELECT 'orders', count(*) FROM orders")
    return {str(name): int(str(n)) for name, n in rows}


def _capture(server: Server, db: str, objects: ObjectStore, sessions: sessionmaker[Session],
             app: str) -> backups.BackupRecord:
    return backups.capture(server, db, objects, app, sessions=sessions)


def test_capture_drop_table_restore_brings_rows_back(
        server: Server, make_db: Callable[[str], str], objects: ObjectStore,
        sessions: sessionmaker[Session], app_name: str) -> None:
    db = make_db(app_name)
    record = _capture(server, db, objects, sessions, app_name)
    assert record.id == "b001" and record.status == "captured"
    assert record.table_counts == {"public.customers": 50, "public.orders": 300}
    info = objects.head(f"addons/postgres/{app_name}/backups/b001.dump")
    assert info is not None and info.size == record.size and info.sha256 == record.sha256
    assert len(record.schema_sha256) == 64

    sql(server, db, "DROP TABLE orders; DELETE FROM customers WHERE id > 10")
    line = backups.restore(server, db, objects, record, confirm=app_name)
    assert line == f"Restored b001 into {app_name}'s database ({db})"
    assert _counts(server, db) == {"customers": 50, "orders": 300}
    assert _capture(server, db, objects, sessions, app_name).id == "b002"
    assert [r.id for r in backups.list_backups(sessions, app_name)] == ["b002", "b001"]


def test_restore_without_confirm_is_refused_and_changes_nothing(
        server: Server, make_db: Callable[[str], str], objects: ObjectStore,
        sessions: sessionmaker[Session], app_name: str) -> None:
    db = make_db(app_name)
    record = _capture(server, db, objects, sessions, app_name)
    sql(server, db, "INSERT INTO customers (name) VALUES ('new')")
    for confirm in ("", "other-app"):
        with pytest.raises(InvalidInput) as caught:
            backups.restore(server, db, objects, record, confirm=confirm)
        assert str(caught.value) == (f"restoring b001 overwrites the database of {app_name}: "
                                     f"repeat the app's name to confirm: --confirm {app_name}")
    assert _counts(server, db)["customers"] == 51


def test_unknown_backup_id_is_one_clear_line(
        server: Server, make_db: Callable[[str], str], objects: ObjectStore,
        sessions: sessionmaker[Session], app_name: str) -> None:
    make_db(app_name)
    with pytest.raises(NotFound) as caught:
        backups.get(sessions, app_name, "b042")
    assert str(caught.value) == (f"{app_name} has no backup b042: "
                                 f"`roost pg backups {app_name}` lists its backups")
    with pytest.raises(InvalidInput) as bad:
        backups.get(sessions, app_name, "42; DROP")
    assert "\n" not in str(bad.value) and "ids look like b001" in str(bad.value)
    assert backups.list_backups(sessions, app_name) == []


def test_fork_into_another_apps_database(
        server: Server, make_db: Callable[[str], str], objects: ObjectStore,
        sessions: sessionmaker[Session], app_name: str) -> None:
    db = make_db(app_name)
    other = make_db(app_name + "-fork", "")
    record = _capture(server, db, objects, sessions, app_name)
    with pytest.raises(InvalidInput):
        backups.restore(server, other, objects, record, confirm=app_name, into_app=other)
    line = backups.restore(server, other, objects, record, confirm=other, into_app=other)
    assert line == f"Restored b001 of {app_name} into {other}'s database ({other})"
    assert _counts(server, other) == {"customers": 50, "orders": 300}


def test_capture_and_restore_through_s3(
        server: Server, make_db: Callable[[str], str], s3_objects: ObjectStore,
        sessions: sessionmaker[Session], app_name: str) -> None:
    db = make_db(app_name)
    record = _capture(server, db, s3_objects, sessions, app_name)
    assert record.size > 0 and len(record.sha256) == 64
    url, path = backups.download(s3_objects, record)
    assert path is None and "Expires=" in url
    fetched = httpx.get(url, timeout=30)  # the signed URL alone fetches the dump
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == record.sha256
    sql(server, db, "TRUNCATE orders")
    backups.restore(server, db, s3_objects, record, confirm=app_name)
    assert _counts(server, db) == {"customers": 50, "orders": 300}


def test_capture_of_a_missing_database_records_nothing(
        server: Server, objects: ObjectStore, sessions: sessionmaker[Session],
        app_name: str) -> None:
    with pytest.raises(NotFound) as caught:
        _capture(server, app_name, objects, sessions, app_name)
    assert str(caught.value) == (f"database {app_name!r} does not exist on "
                                 f"{server.host}:{server.port}")
    assert backups.list_backups(sessions, app_name) == []

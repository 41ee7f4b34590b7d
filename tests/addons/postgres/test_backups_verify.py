"""Proven backups: a backup is restored into a scratch database and compared with its
source; a truncated object and a real empty dump are both caught, and maintainers told."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from roost.addons.postgres import backups, pgtools
from roost.addons.postgres.server import Server
from roost.core import apps, maintainers
from roost.errors import Conflict
from roost.notify import outbox
from roost.objectstore.file import FileStore
from roost.orchestration import pg_backups
from roost.orchestration.platform import Platform
from tests.addons.postgres.conftest import sql
from tests.conftest import PG_URL


@pytest.fixture
def shop(platform: Platform, make_db: Callable[[str], str], app_name: str,
         monkeypatch: pytest.MonkeyPatch) -> str:
    """An app with a maintainer and a database with rows, on the suite's server."""
    monkeypatch.setenv("ROOST_PG_SERVER", PG_URL)
    with platform.sessions.begin() as s:
        apps.create(s, app_name, "t")
        maintainers.add(s, app_name, "Ada", "ada@example.com", "+15551230002", [], "t")
    make_db(app_name)
    return app_name


def _outbox(platform: Platform, app: str) -> list[tuple[str, str]]:
    with platform.sessions.begin() as s:
        return sorted((m.channel, m.subject) for m in outbox.messages(s, f"pgbackup:{app}:"))


def _object(platform: Platform, record: backups.BackupRecord) -> Path:
    assert isinstance(platform.objects, FileStore)
    return platform.objects.local_path(record.object_key)


def _scratch_left(server: Server) -> list[object]:
    return [r[0] for r in sql(server, "postgres", "SELECT datname FROM pg_database WHERE "
                                                  "datname LIKE 'roost_verify_%'")]


def test_a_good_backup_is_verified(platform: Platform, shop: str, server: Server,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []  # this verify's scratch database (other tests verify beside it)
    create = pgtools.create_database

    def recording(*args: object, **kwargs: object) -> str:
        name = create(*args, **kwargs)  # type: ignore[arg-type]
        made.append(name)
        return name

    monkeypatch.setattr(pgtools, "create_database", recording)
    record = pg_backups.capture(platform, shop)
    checked = pg_backups.verify_and_report(platform, shop, record.id)
    assert (checked.status, checked.reason) == ("verified", "")
    assert checked.verified_at is not None
    assert _outbox(platform, shop) == []
    assert [n for n in made if n.startswith("roost_verify_")] == made and len(made) == 1
    assert made[0] not in _scratch_left(server)  # the scratch database is gone


def test_truncated_backup_fails_and_maintainers_are_told(platform: Platform, shop: str) -> None:
    record = pg_backups.capture(platform, shop)
    path = _object(platform, record)
    path.write_bytes(path.read_bytes()[: record.size // 2])  # a real, cut-off dump
    checked = pg_backups.verify_and_report(platform, shop, record.id)
    assert checked.status == "failed"
    assert checked.reason.startswith("the backup does not restore (truncated or corrupted): ")
    assert _outbox(platform, shop) == [
        ("email", f"[roost] {shop}: database backup b001 failed verification")]
    assert [r.status for r in backups.list_backups(platform.sessions, shop)] == ["failed"]


def test_empty_dump_fails_and_second_failure_in_a_row_texts(
        platform: Platform, shop: str, server: Server, make_db: Callable[..., str],
        tmp_path: Path) -> None:
    empty_db = make_db(shop + "-empty", "")
    url, env = pgtools.split_password(server.url(empty_db))
    empty = subprocess.run([pgtools.tool(server, "pg_dump"), "-Fc", "-d", url], env=env,
                           capture_output=True, check=True).stdout  # a real dump of nothing
    for number in (1, 2):
        record = pg_backups.capture(platform, shop)
        _object(platform, record).write_bytes(empty)
        checked = pg_backups.verify_and_report(platform, shop, record.id)
        assert checked.status == "failed"
        assert checked.reason == ("the backup is empty: it restores no tables, the source "
                                  "had 2 (350 rows)"), number
    assert _outbox(platform, shop) == [
        ("email", f"[roost] {shop}: database backup b001 failed verification"),
        ("email", f"[roost] {shop}: database backup b002 failed verification"),
        ("sms", f"[roost] {shop}: database backup b002 failed verification")]


def test_111_byte_object_is_caught(platform: Platform, shop: str, server: Server) -> None:
    record = pg_backups.capture(platform, shop)
    path = _object(platform, record)
    path.write_bytes(path.read_bytes()[:111])
    checked = pg_backups.verify_and_report(platform, shop, record.id)
    assert checked.status == "failed" and "does not restore" in checked.reason
    with pytest.raises(Conflict) as refused:  # a failed backup is not restored over data
        pg_backups.restore(platform, shop, record.id, confirm=shop)
    assert str(refused.value).startswith(f"backup b001 of {shop} is failed: ")
    assert sql(server, shop, "SELECT count(*) FROM orders") == [(300,)]


def test_changed_rows_are_caught(platform: Platform, shop: str) -> None:
    record = pg_backups.capture(platform, shop)
    backups.update(platform.sessions, shop, record.id,
                   table_counts={**record.table_counts, "public.orders": 301})
    checked = pg_backups.verify_and_report(platform, shop, record.id)
    assert checked.reason == ("public.orders has 300 rows in the backup, 301 in the source "
                              "at capture")


"""Daily backups: the schedule, the pass of `roost up` that takes what is due and proves
it, and retention of 7 daily + 4 weekly backups (objects and rows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from roost.addons.postgres import backups, schedule
from roost.addons.postgres.backups import BackupRecord
from roost.core import apps
from roost.errors import InvalidInput
from roost.objectstore import ObjectStore
from roost.orchestration import pg_backups
from roost.orchestration.platform import Platform
from roost.store.models.pg_backups import PgBackup
from tests.conftest import PG_URL


def _rec(number: int, when: datetime, trigger: str = "scheduled") -> BackupRecord:
    return BackupRecord(app="shop", id=backups.backup_id(number), database="shop",
                        trigger=trigger, status="verified", reason="", object_key="",
                        size=1, sha256="", created_at=when)


def test_retention_keeps_seven_daily_and_four_weekly() -> None:
    start = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # a Thursday
    records = [_rec(n + 1, start + timedelta(days=n)) for n in range(60)]  # one a day
    records.append(_rec(61, start + timedelta(days=59, hours=1)))  # two on the last day
    records.append(_rec(62, start, trigger="manual"))  # never deleted by retention
    kept = {r.id for r in records} - {r.id for r in schedule.expired(records)}
    newest_days = {backups.backup_id(n) for n in range(54, 60)} | {"b061"}
    # The newest of each of the 4 newest ISO weeks: this week's is b061 (already kept); the
    # three weeks before end on Sundays 2026-11-22, -15, -08 (days 52, 45, 38 -> b053...).
    weekly = {"b053", "b046", "b039"}
    assert kept == newest_days | weekly | {"b062"}
    assert schedule.expired([]) == []


@pytest.mark.parametrize("at", ["2:00", "24:00", "02:60", "0200", "", "noon"])
def test_bad_time_is_refused(sessions: sessionmaker[Session], at: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        schedule.set_schedule(sessions, "shop", at)
    assert str(caught.value) == (f"--at {at!r}: give a time of day as HH:MM (24-hour, UTC), "
                                 "e.g. --at 02:00")
    assert schedule.get_schedule(sessions, "shop") is None


def test_due_once_a_day_after_its_time(sessions: sessionmaker[Session]) -> None:
    schedule.set_schedule(sessions, "shop", "02:00")
    schedule.set_schedule(sessions, "blog", "23:30")
    morning = datetime(2026, 12, 2, 2, 1, tzinfo=UTC)
    assert schedule.due(sessions, morning - timedelta(minutes=2)) == []
    assert schedule.due(sessions, morning) == ["shop"]
    schedule.mark_ran(sessions, "shop", morning)
    assert schedule.due(sessions, morning + timedelta(hours=3)) == []
    assert schedule.due(sessions, morning + timedelta(days=1)) == ["shop"]
    assert schedule.set_schedule(sessions, "shop", "04:15").at == "04:15"


def test_retention_deletes_objects_and_rows(sessions: sessionmaker[Session],
                                            objects: ObjectStore) -> None:
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # b001 on Mon 2 Nov ... b015 on Mon 16 Nov
    with sessions.begin() as s:
        for n in range(1, 16):
            key = backups.object_key("shop", backups.backup_id(n))
            objects.put(key, b"dump %d" % n)
            s.add(PgBackup(app="shop", number=n, database="shop", trigger="scheduled",
                           status="verified", object_key=key, size=6,
                           created_at=start + timedelta(days=n)))
    gone = schedule.apply_retention(sessions, objects, "shop")
    # Kept: the last 7 days (b009-b015) and the newest of the week of 2-8 Nov (b007).
    assert gone == ["b008", "b006", "b005", "b004", "b003", "b002", "b001"]
    left = [r.id for r in backups.list_backups(sessions, "shop")]
    assert left == [*(backups.backup_id(n) for n in range(15, 8, -1)), "b007"]
    assert sorted(o.key.rsplit("/", 1)[1] for o in objects.list("addons/postgres/shop/")) == \
        sorted(f"{bid}.dump" for bid in left)


def test_scheduled_pass_captures_verifies_and_marks_the_day(
        platform: Platform, make_db: Callable[[str], str], app_name: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_PG_SERVER", PG_URL)
    with platform.sessions.begin() as s:
        apps.create(s, app_name, "t")
    make_db(app_name)
    schedule.set_schedule(platform.sessions, app_name, "02:00")
    now = datetime(2026, 12, 2, 2, 0, 30, tzinfo=UTC)
    assert pg_backups.scheduled_pass(platform, now) == [app_name]
    assert pg_backups.scheduled_pass(platform, now + timedelta(minutes=1)) == []
    [record] = backups.list_backups(platform.sessions, app_name)
    assert (record.id, record.trigger, record.status) == ("b001", "scheduled", "verified")

"""Advisories with a range Roost cannot read: reported as not evaluated by every scan and by
an app's stored report, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from roost.monitor.vulns import (
    app_report,
    import_path,
    rescan_affected,
    scan_app_directory,
    scan_directory,
    to_json,
)
from roost.store.models.vulns import AdvisoryPackage
from roost.store.session import make_sessionmaker, transaction
from tests.monitor.vulns.osvdata import record, write_dir

REASON = "range bound fixed: 0.2.0-n653 is not a PyPI version"
EXPECTED = {"id": "PYSEC-2021-371", "ecosystem": "PyPI", "package": "binderhub",
            "version": "0.1.0", "lockfile": "requirements.txt", "line": 1, "reason": REASON}


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def _records() -> list[dict[str, Any]]:
    binderhub = record("PYSEC-2021-371", "PyPI", "binderhub",
                       [{"introduced": "0"}, {"fixed": "0.2.0-n653"}],
                       aliases=("CVE-2021-39159",))
    django = record("PYSEC-2021-98", "PyPI", "django", [{"introduced": "3.2"}, {"fixed": "3.2.4"}])
    return [binderhub, django]


def _app(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.txt").write_text("binderhub==0.1.0\ndjango==3.2.1\n")
    return root


def _unread(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in report["not_evaluated"] if n["id"]]


def test_scan_directory_and_app_report_name_the_unread_advisory(factory: sessionmaker[Session],
                                                                tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv", _records()))
    with factory() as session:
        stored = session.scalar(select(AdvisoryPackage.not_evaluated)
                                .where(AdvisoryPackage.name == "binderhub"))
    assert stored == REASON
    app = _app(tmp_path / "hub")
    with factory() as session:
        local = to_json(scan_directory(app, session))
    assert [f["id"] for f in local["findings"]] == ["PYSEC-2021-98"]
    assert _unread(local) == [EXPECTED]

    with transaction(factory) as session:
        deployed = to_json(scan_app_directory(session, "hub", app))
    assert _unread(deployed) == [EXPECTED]
    with factory() as session:
        shown = to_json(app_report(session, "hub"))
    assert [f["id"] for f in shown["findings"]] == ["PYSEC-2021-98"]
    assert _unread(shown) == [EXPECTED]


def test_a_readable_record_of_the_flaw_replaces_the_not_evaluated_line(
        factory: sessionmaker[Session], tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv", _records()))
    app = _app(tmp_path / "hub")
    with transaction(factory) as session:
        scan_app_directory(session, "hub", app)
    ghsa = record("GHSA-9jjr-qqfp-ppwx", "PyPI", "binderhub",
                  [{"introduced": "0"}, {"fixed": "0.2.1"}], aliases=("CVE-2021-39159",))
    result = import_path(factory, write_dir(tmp_path / "osv2", [ghsa]))
    with transaction(factory) as session:
        reports = rescan_affected(session, result.changed_keys)
    assert [f.id for f in reports["hub"].new] == ["CVE-2021-39159"]
    assert [n for n in reports["hub"].not_evaluated if n.id] == []
    with factory() as session:
        shown = to_json(app_report(session, "hub"))
    assert _unread(shown) == []
    assert {f["id"] for f in shown["findings"]} == {"CVE-2021-39159", "PYSEC-2021-98"}


def test_index_written_by_an_older_roost_still_reports_it(factory: sessionmaker[Session],
                                                          tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv", _records()))
    app = _app(tmp_path / "hub")
    with transaction(factory) as session:
        scan_app_directory(session, "hub", app)
        # As migration 0007 leaves an index of matcher format 1: no reason column yet.
        session.execute(update(AdvisoryPackage).values(not_evaluated=None,
                                                       matcher='[1,[],[],[],[]]'))
    with factory() as session:
        assert _unread(to_json(app_report(session, "hub"))) == [EXPECTED]
        assert _unread(to_json(scan_directory(app, session))) == [EXPECTED]

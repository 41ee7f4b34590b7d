"""Scans against the store: findings, what is new, re-scans on DB changes, ignores, output."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from roost.errors import InvalidInput, NotFound, ParseError
from roost.monitor.vulns import (
    app_report,
    ignore,
    import_path,
    list_ignores,
    rescan_affected,
    scan_app_directory,
    scan_directory,
    table_rows,
    to_json,
    to_sarif,
    unignore,
)
from roost.monitor.vulns.matcher import FORMAT
from roost.store.models.vulns import AdvisoryPackage, AppDependency, VulnFinding
from roost.store.session import make_sessionmaker, transaction
from tests.monitor.vulns.osvdata import record, write_dir

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def _advisories() -> list[dict[str, object]]:
    return [
        record("PYSEC-2021-98", "PyPI", "django", [{"introduced": "3.2"}, {"fixed": "3.2.4"}],
               aliases=("CVE-2021-33203",)),
        record("GHSA-68w8-qjq3-2gfm", "PyPI", "Django",
               [{"fixed": "3.2.4"}, {"introduced": "3.2"}], aliases=("CVE-2021-33203",),
               vector=CRITICAL, summary="Potential directory traversal via admindocs"),
        record("GHSA-p6mc-m468-83gw", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.21"}],
               level="HIGH"),
        record("GHSA-withdrawn", "npm", "lodash", [{"introduced": "0"}],
               withdrawn="2024-01-02T00:00:00Z"),
        record("GHSA-vxvm-qww3-2fh7", "RubyGems", "nokogiri",
               [{"introduced": "0"}, {"fixed": "1.16.2"}], level="MODERATE"),
    ]


def _app(root: Path, django: str = "3.2.1", lodash: str = "4.17.20") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.txt").write_text(f"Django=={django}\nrequests>=2.10.0\n")
    (root / "web").mkdir(exist_ok=True)
    (root / "web/package-lock.json").write_text(json.dumps({
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "web"},
            "node_modules/lodash": {"version": lodash},
            "node_modules/jest": {"version": "29.0.0", "dev": True},
        },
    }, indent=2))
    return root


def test_scan_app_stores_findings_and_reports_new_once(factory: sessionmaker[Session],
                                                       tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv", _advisories()))
    app = _app(tmp_path / "shop")
    with transaction(factory) as session:
        report = scan_app_directory(session, "shop", app)
    assert sorted(report.lockfiles) == ["requirements.txt", "web/package-lock.json"]
    assert {(f.package, f.version) for f in report.new} == {("django", "3.2.1"),
                                                            ("lodash", "4.17.20")}
    django = next(f for f in report.findings if f.package == "django")
    # PYSEC and GHSA share a CVE: one finding carrying every id.
    assert django.ids == ["CVE-2021-33203", "GHSA-68w8-qjq3-2gfm", "PYSEC-2021-98"]
    assert django.severity == "critical" and django.fixed == "3.2.4"
    assert django.summary == "Potential directory traversal via admindocs"
    assert django.lockfile == "requirements.txt" and django.line == 1
    assert [n.package for n in report.not_evaluated] == ["requests"]
    assert report.exit_code == 1

    with transaction(factory) as session:
        again = scan_app_directory(session, "shop", app)
    assert again.new == [] and len(again.findings) == 2
    assert {f.first_seen for f in again.findings} == {f.first_seen for f in report.findings}

    _app(app, django="3.2.4")  # the fix is deployed
    with transaction(factory) as session:
        fixed = scan_app_directory(session, "shop", app)
        rows = session.scalars(select(VulnFinding.package)).all()
    assert [f.package for f in fixed.findings] == ["lodash"] and rows == ["lodash"]


def test_database_update_finds_vulnerability_in_deployed_app(factory: sessionmaker[Session],
                                                             tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv1", _advisories()))
    with transaction(factory) as session:
        scan_app_directory(session, "shop", _app(tmp_path / "shop"))
        scan_app_directory(session, "blog", _app(tmp_path / "blog", lodash="4.17.21"))
    jest = record("GHSA-jest-0000-0001", "npm", "jest", [{"introduced": "29.0.0"}])
    result = import_path(factory, write_dir(tmp_path / "osv2", [jest]))
    assert result.changed_keys == {("npm", "jest")}
    with transaction(factory) as session:
        reports = rescan_affected(session, result.changed_keys)
    assert sorted(reports) == ["blog", "shop"]
    for report in reports.values():
        assert [(f.package, f.dev, f.new) for f in report.findings] == [("jest", True, True)]
    with factory() as session:
        shop = app_report(session, "shop")
    assert sorted(f.package for f in shop.findings) == ["django", "jest", "lodash"]

    # Withdrawing an advisory removes its finding on the next re-scan.
    gone = record("GHSA-jest-0000-0001", "npm", "jest", [{"introduced": "29.0.0"}],
                  modified="2024-05-01T00:00:00Z", withdrawn="2024-05-01T00:00:00Z")
    result = import_path(factory, write_dir(tmp_path / "osv3", [gone]))
    with transaction(factory) as session:
        reports = rescan_affected(session, result.changed_keys)
    assert all(r.findings == [] for r in reports.values())
    with factory() as session:
        assert sorted(f.package for f in app_report(session, "shop").findings) == [
            "django", "lodash"]


def test_rescan_only_touches_apps_using_changed_packages(factory: sessionmaker[Session],
                                                         tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv", _advisories()))
    with transaction(factory) as session:
        scan_app_directory(session, "shop", _app(tmp_path / "shop"))
        assert rescan_affected(session, {("npm", "react")}) == {}
        reports = rescan_affected(session, {("npm", "lodash")})
        assert [f.package for f in reports["shop"].findings] == ["lodash"]
        assert reports["shop"].new == []
        # Findings of packages outside the changed keys are left alone.
        assert session.scalars(select(VulnFinding.package)
                               .order_by(VulnFinding.package)).all() == ["django", "lodash"]


def test_ignore_is_alias_aware_and_expires(factory: sessionmaker[Session],
                                           tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv", _advisories()))
    app = _app(tmp_path / "shop")
    with transaction(factory) as session:
        rule = ignore(session, "shop", "CVE-2021-33203", "admindocs is disabled",
                      until=date.today() + timedelta(days=3))
        assert {"GHSA-68w8-qjq3-2gfm", "PYSEC-2021-98"} <= set(rule.ids)
        report = scan_app_directory(session, "shop", app)
    assert [f.package for f in report.active] == ["lodash"]
    assert [f.package for f in report.new] == ["lodash"]
    assert table_rows(report)[0]["package"] == "lodash" and len(table_rows(report)) == 1
    with factory() as session:
        later = app_report(session, "shop", now=datetime.now(UTC) + timedelta(days=5))
        assert sorted(f.package for f in later.active) == ["django", "lodash"]
        assert [r.advisory_id for r in list_ignores(session, "shop")] == ["CVE-2021-33203"]
    with transaction(factory) as session:
        unignore(session, "shop", "CVE-2021-33203")
        with pytest.raises(NotFound):
            unignore(session, "shop", "CVE-2021-33203")
        with pytest.raises(InvalidInput):
            ignore(session, "shop", "GHSA-x", "too late", until=date(2020, 1, 1))
        with pytest.raises(InvalidInput):
            ignore(session, "shop", "GHSA-x", "  ")


def test_ignoring_a_ghsa_hides_the_finding_known_by_its_cve(factory: sessionmaker[Session],
                                                             tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv", _advisories()))
    with transaction(factory) as session:
        ignore(session, "shop", "GHSA-p6mc-m468-83gw", "not reachable")
        report = scan_app_directory(session, "shop", _app(tmp_path / "shop"))
    assert [f.package for f in report.active] == ["django"]
    assert [f.package for f in report.findings if f.ignored] == ["lodash"]


def test_scan_directory_needs_no_app_and_stores_nothing(factory: sessionmaker[Session],
                                                        tmp_path: Path) -> None:
    app = _app(tmp_path / "shop")
    (app / "Gemfile.lock").write_text(
        "GEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.16.0-x86_64-linux)\n"
    )
    with factory() as session, pytest.raises(NotFound, match="empty"):
        scan_directory(app, session)
    import_path(factory, write_dir(tmp_path / "osv", _advisories()))
    with factory() as session:
        report = scan_directory(app, session)
        single = scan_directory(app / "Gemfile.lock", session)
        assert session.scalars(select(AppDependency)).first() is None
    assert sorted(f.package for f in report.findings) == ["django", "lodash", "nokogiri"]
    assert [(f.package, f.version, f.severity) for f in single.findings] == [
        ("nokogiri", "1.16.0", "medium")]
    (app / "yarn.lock").write_text("not a lockfile at all\n")
    with factory() as session, pytest.raises(ParseError, match="yarn.lock:1"):
        scan_directory(app, session)


def test_outputs(factory: sessionmaker[Session], tmp_path: Path) -> None:
    import_path(factory, write_dir(tmp_path / "osv", _advisories()))
    with factory() as session:
        report = scan_directory(_app(tmp_path / "shop"), session)
    rows = table_rows(report)
    assert [r["severity"] for r in rows] == ["critical", "high"]
    assert rows[0]["id"] == "CVE-2021-33203" and "PYSEC-2021-98" in rows[0]["aliases"]
    data = orjson.loads(orjson.dumps(to_json(report)))
    assert [f["package"] for f in data["findings"]] == ["django", "lodash"]
    assert data["not_evaluated"][0]["package"] == "requests"
    sarif = to_sarif(report)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == ["CVE-2021-33203", "GHSA-p6mc-m468-83gw"]
    first = run["results"][0]
    assert first["ruleId"] == "CVE-2021-33203" and first["level"] == "error"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "requirements.txt"}, "region": {"startLine": 1}}
    assert "3.2.4" in first["message"]["text"]
    assert run["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "9.8"


def test_findings_merge_when_a_new_alias_links_them(factory: sessionmaker[Session],
                                                    tmp_path: Path) -> None:
    pysec = record("PYSEC-2024-1", "PyPI", "flask", [{"introduced": "0"}, {"fixed": "2.3.3"}])
    ghsa = record("GHSA-flsk-0000-0001", "PyPI", "flask", [{"introduced": "0"}, {"fixed": "2.3.3"}])
    import_path(factory, write_dir(tmp_path / "osv1", [pysec, ghsa]))
    app = tmp_path / "api"
    app.mkdir()
    (app / "requirements.txt").write_text("Flask==2.3.2\n")
    early = datetime(2024, 1, 1, tzinfo=UTC)
    with transaction(factory) as session:
        first = scan_app_directory(session, "api", app, now=early)
    assert len(first.findings) == 2 and len(first.new) == 2
    linked = record("GHSA-flsk-0000-0001", "PyPI", "flask",
                    [{"introduced": "0"}, {"fixed": "2.3.3"}], aliases=("PYSEC-2024-1",),
                    modified="2024-02-01T00:00:00Z")
    result = import_path(factory, write_dir(tmp_path / "osv2", [linked]))
    with transaction(factory) as session:
        report = rescan_affected(session, result.changed_keys)["api"]
        rows = session.scalars(select(VulnFinding)).all()
    assert [f.ids for f in report.findings] == [["GHSA-flsk-0000-0001", "PYSEC-2024-1"]]
    assert report.new == [] and report.findings[0].first_seen == early
    assert len(rows) == 1 and rows[0].first_seen == early


def test_index_rows_without_a_matcher_still_match_and_get_one(factory: sessionmaker[Session],
                                                              tmp_path: Path) -> None:
    # An index written before matchers were stored (NULL), or in an older format.
    import_path(factory, write_dir(tmp_path / "osv", _advisories()))
    app = _app(tmp_path / "shop")
    with factory() as session:
        expected = to_json(scan_directory(app, session))
    with transaction(factory) as session:
        session.execute(update(AdvisoryPackage).values(matcher=None))
        session.execute(update(AdvisoryPackage).where(AdvisoryPackage.name == "lodash")
                        .values(matcher='[0,["4.17.20"],[],[],[]]'))
    with factory() as session:
        assert to_json(scan_directory(app, session)) == expected
    react = record("GHSA-rect-0000-0001", "npm", "react", [{"introduced": "0"}])
    import_path(factory, write_dir(tmp_path / "osv2", [react]))  # any import fills them in
    with factory() as session:
        stored = session.scalars(select(AdvisoryPackage.matcher)).all()
        assert len(stored) == 6 and all(m is not None and m.startswith(f"[{FORMAT},")
                                        for m in stored)
        assert to_json(scan_directory(app, session)) == expected

"""OSV matching rules, CVSS scores and alias grouping, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from roost.monitor.vulns.cvss import base_score, level_for_score
from roost.monitor.vulns.findings import match
from roost.monitor.vulns.index import IndexedAdvisory
from roost.monitor.vulns.lockfiles.base import dep
from roost.monitor.vulns.matcher import matcher_json
from roost.monitor.vulns.osv import is_affected, lowest_fix_above, record_severity, summarise
from roost.monitor.vulns.versions import NPM, PYPI, RUBYGEMS


def rng(*events: dict[str, str], kind: str = "ECOSYSTEM") -> dict[str, Any]:
    return {"type": kind, "events": list(events)}


# (ecosystem, affected entries, installed version, expected)
CASES = [
    # npm
    (NPM, [{"ranges": [rng({"introduced": "0"}, {"fixed": "1.2.5"})]}], "1.2.4-beta.1", True),
    (NPM, [{"ranges": [rng({"introduced": "0"}, {"fixed": "1.2.5"})]}], "1.2.5", False),
    (NPM, [{"ranges": [rng({"introduced": "0"}, {"fixed": "1.2.5"})]}], "1.2.5-rc.1", True),
    (NPM, [{"ranges": [rng({"introduced": "2.0.0"})]}], "99.0.0", True),
    (NPM, [{"ranges": [rng({"introduced": "2.0.0"})]}], "1.9.9", False),
    (NPM, [{"versions": ["1.0.0"]}], "1.0.0+build", True),
    (NPM, [{"ranges": [rng({"introduced": "1.0.0"}, {"fixed": "1.0.1"}, kind="SEMVER")]}],
     "1.0.0+build.7", True),
    (NPM, [{"ranges": [rng({"introduced": "1.0.0-beta.2"}, {"fixed": "1.0.0"})]}],
     "1.0.0-beta.11", True),
    # events arrive unsorted; two intervals
    (NPM, [{"ranges": [rng({"fixed": "2.3.0"}, {"introduced": "2.0.0"}, {"fixed": "1.5.0"},
                           {"introduced": "1.0.0"})]}], "1.7.0", False),
    (NPM, [{"ranges": [rng({"fixed": "2.3.0"}, {"introduced": "2.0.0"}, {"fixed": "1.5.0"},
                           {"introduced": "1.0.0"})]}], "2.1.0", True),
    (NPM, [{"ranges": [rng({"fixed": "2.3.0"}, {"introduced": "2.0.0"}, {"fixed": "1.5.0"},
                           {"introduced": "1.0.0"})]}], "1.4.9", True),
    # limit
    (NPM, [{"ranges": [rng({"introduced": "0"}, {"limit": "3.0.0"})]}], "3.0.0", False),
    (NPM, [{"ranges": [rng({"introduced": "0"}, {"limit": "3.0.0"})]}], "2.9.0", True),
    # PyPI
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"last_affected": "2.0.0"})]}], "2.0.0", True),
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"last_affected": "2.0.0"})]}], "2.0", True),
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"last_affected": "2.0.0"})]}], "2.0.1", False),
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"fixed": "2.0.1"})]}], "2.0.0+cpu", True),
    (PYPI, [{"ranges": [rng({"introduced": "10.0.0"}, {"fixed": "84.1.0"})]}], "9.1.0", False),
    (PYPI, [{"ranges": [rng({"introduced": "10.0.0"}, {"fixed": "84.1.0"})]}], "84.0.0", True),
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"fixed": "1.0"})]}], "1!0.1", False),
    (PYPI, [{"ranges": [rng({"introduced": "1.0a1"}, {"fixed": "1.0"})]}], "1.0.dev1", False),
    (PYPI, [{"ranges": [rng({"introduced": "1.0a1"}, {"fixed": "1.0"})]}], "1.0rc1", True),
    (PYPI, [{"versions": ["1.0"]}], "1.0.0", True),
    (PYPI, [{"versions": ["1.0"]}], "1.0.1", False),
    # a GIT range listed first does not hide the ECOSYSTEM range after it
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"fixed": "abc123"}, kind="GIT"),
                        rng({"introduced": "1.0"}, {"fixed": "1.5"})]}], "1.2", True),
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"fixed": "abc123"}, kind="GIT")]}], "1.2",
     False),
    # several affected entries for one package
    (PYPI, [{"ranges": [rng({"introduced": "1.0"}, {"fixed": "1.1"})]},
            {"ranges": [rng({"introduced": "2.0"}, {"fixed": "2.1"})]}], "2.0.5", True),
    (PYPI, [{"ranges": [rng({"introduced": "1.0"}, {"fixed": "1.1"})]},
            {"ranges": [rng({"introduced": "2.0"}, {"fixed": "2.1"})]}], "1.5", False),
    # RubyGems
    (RUBYGEMS, [{"ranges": [rng({"introduced": "0"}, {"fixed": "5.0.0.1"})]}], "5.0.0", True),
    (RUBYGEMS, [{"ranges": [rng({"introduced": "0"}, {"fixed": "5.0.0.1"})]}], "5.0.0.1", False),
    (RUBYGEMS, [{"ranges": [rng({"introduced": "0"}, {"fixed": "1.0.0"})]}], "1.0.0.pre", True),
    (RUBYGEMS, [{"ranges": [rng({"introduced": "2.0.0.beta2"}, {"fixed": "2.0.0.rc1"})]}],
     "2.0.0.rc1", False),
    (RUBYGEMS, [{"ranges": [rng({"introduced": "0"}, {"fixed": "1.16.2"})]}], "1.16.0", True),
    (RUBYGEMS, [{"versions": ["1.0.0"]}], "1.0", True),
]


@pytest.mark.parametrize(("ecosystem", "entries", "installed", "expected"), CASES)
def test_is_affected(ecosystem: str, entries: list[dict[str, Any]], installed: str,
                     expected: bool) -> None:
    assert is_affected(ecosystem, entries, installed) is expected


def test_unreadable_range_is_not_a_match() -> None:
    assert not is_affected(NPM, [{"ranges": [rng({"introduced": "nonsense"})]}], "1.0.0")


@pytest.mark.parametrize(("ecosystem", "events", "installed", "expected"), [
    (PYPI, [{"introduced": "0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.4.1"}],
     "2.1", "2.4.1"),
    (PYPI, [{"fixed": "2.4.1"}, {"fixed": "1.2"}, {"introduced": "0"}], "1.0", "1.2"),
    (PYPI, [{"introduced": "0"}, {"last_affected": "3.0"}], "2.0", None),
    (NPM, [{"introduced": "0"}, {"fixed": "1.0.0-rc.2"}, {"fixed": "1.0.0"}], "1.0.0-rc.1",
     "1.0.0-rc.2"),
])
def test_lowest_fix_above(ecosystem: str, events: list[dict[str, str]], installed: str,
                          expected: str | None) -> None:
    assert lowest_fix_above(ecosystem, [{"ranges": [rng(*events)]}], installed) == expected


@pytest.mark.parametrize(("vector", "score"), [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
    ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", 5.5),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
    ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
])
def test_cvss_base_score(vector: str, score: float) -> None:
    assert base_score(vector) == score


@pytest.mark.parametrize("vector", ["CVSS:2.0/AV:N", "CVSS:3.1/AV:N/AC:L", "CVSS:3.1/AV:X/AC:L/"
                                    "PR:N/UI:N/S:U/C:H/I:H/A:H", ""])
def test_cvss_malformed(vector: str) -> None:
    assert base_score(vector) is None


def test_severity_from_vector_else_database_level() -> None:
    with_vector = {"severity": [{"type": "CVSS_V3",
                                 "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}],
                   "database_specific": {"severity": "CRITICAL"}}
    assert record_severity(with_vector) == ("medium", 6.1)
    assert record_severity({"database_specific": {"severity": "MODERATE"}}) == ("medium", None)
    assert record_severity({}) == (None, None)
    assert level_for_score(9.0) == "critical" and level_for_score(8.9) == "high"


def test_summarise_normalises_names_and_drops_git_ranges() -> None:
    record = {
        "id": "PYSEC-1", "modified": "2024-01-02T03:04:05Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "Zope.Interface"},
                      "ranges": [rng({"introduced": "0"}, {"fixed": "a1b2"}, kind="GIT"),
                                 rng({"introduced": "0"}, {"fixed": "5.0"})]}],
    }
    s = summarise(record)
    assert list(s.packages) == [("PyPI", "zope-interface")]
    assert s.packages[("PyPI", "zope-interface")][0]["ranges"] == [
        rng({"introduced": "0"}, {"fixed": "5.0"})]


def _adv(id_: str, aliases: tuple[str, ...], fixed: str, severity: str = "high"
         ) -> IndexedAdvisory:
    eco = PYPI if id_ != "GHSA-m" else NPM
    matcher = matcher_json(eco, [{"ranges": [rng({"introduced": "0"}, {"fixed": fixed})]}])
    return IndexedAdvisory(id_, aliases, f"summary of {id_}", severity, None, matcher)


def test_pysec_and_ghsa_merge_into_one_finding() -> None:
    deps = [dep(PYPI, "Django", "3.2.1", "requirements.txt")]
    advisories = {(PYPI, "django"): [
        _adv("PYSEC-2021-1", ("CVE-2021-33203",), "3.2.4", "medium"),
        _adv("GHSA-68w8-qjq3-2gfm", ("CVE-2021-33203",), "3.2.4", "high"),
        _adv("GHSA-other", (), "3.2.5"),
    ]}
    findings, _ = match(deps, advisories)
    assert len(findings) == 2
    merged = next(f for f in findings if "PYSEC-2021-1" in f.ids)
    assert merged.ids == ["CVE-2021-33203", "GHSA-68w8-qjq3-2gfm", "PYSEC-2021-1"]
    assert merged.id == "CVE-2021-33203"
    assert merged.severity == "high"
    assert merged.summary == "summary of GHSA-68w8-qjq3-2gfm"
    assert merged.fixed == "3.2.4"


def test_not_evaluated_dependencies_are_reported() -> None:
    deps = [
        dep(PYPI, "requests", ">=2.10.0", "requirements.txt", note="not pinned with =="),
        dep(PYPI, "flask", "banana", "poetry.lock"),
    ]
    advisories = {(PYPI, "requests"): [_adv("GHSA-r", (), "2.20.0")],
                  (PYPI, "flask"): [_adv("GHSA-f", (), "2.0")]}
    findings, not_evaluated = match(deps, advisories)
    assert findings == []
    assert [n.package for n in not_evaluated] == ["requests", "flask"]
    assert "parse" in not_evaluated[1].reason


def test_dev_only_when_every_location_is_dev() -> None:
    advisories = {(NPM, "minimist"): [_adv("GHSA-m", (), "1.2.6")]}
    only_dev = [dep(NPM, "minimist", "1.2.5", "package-lock.json", dev=True)]
    mixed = only_dev + [dep(NPM, "minimist", "0.0.8", "web/package-lock.json")]
    assert match(only_dev, advisories)[0][0].dev is True
    finding = match(mixed, advisories)[0][0]
    assert finding.dev is False and len(finding.locations) == 2
    assert finding.version == "1.2.5" and finding.fixed == "1.2.6"

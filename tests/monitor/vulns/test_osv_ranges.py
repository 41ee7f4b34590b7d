"""Two details of OSV range evaluation, on the shapes of real PyPA advisory records.

- Events at one version apply in the record's order (osv.dev's own enumeration sorts events
  by version, stably): PYSEC-2022-236 and PYSEC-2023-72 for pyspark re-open a range at the
  version that closes another, and the versions osv.dev lists for them follow from that.
- A range whose bound is not a version of its ecosystem (PYSEC-2021-371's ``fixed:
  0.2.0-n653``) is left out, and the advisory is reported as not evaluated, with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from roost.monitor.vulns.findings import match
from roost.monitor.vulns.index import IndexedAdvisory
from roost.monitor.vulns.lockfiles.base import dep
from roost.monitor.vulns.matcher import compile_entries, matcher_json, unread_ranges
from roost.monitor.vulns.osv import is_affected, lowest_fix_above
from roost.monitor.vulns.versions import NPM, PYPI


def rng(*events: dict[str, str], kind: str = "ECOSYSTEM") -> dict[str, Any]:
    return {"type": kind, "events": list(events)}


# pyspark's releases on PyPI from 2.1.1 to 3.4.0 (there was no 3.1.0).
PYSPARK = ["2.1.1", "2.1.2", "2.1.3", "2.2.0", "2.2.1", "2.2.2", "2.2.3", "2.3.0", "2.3.1",
           "2.3.2", "2.3.3", "2.3.4", "2.4.0", "2.4.1", "2.4.2", "2.4.3", "2.4.4", "2.4.5",
           "2.4.6", "2.4.7", "2.4.8", "3.0.0", "3.0.1", "3.0.2", "3.0.3", "3.1.1", "3.1.2",
           "3.1.3", "3.2.0", "3.2.1", "3.2.2", "3.2.3", "3.2.4", "3.3.0", "3.4.0"]
UP_TO_3_0_3 = PYSPARK[: PYSPARK.index("3.0.3") + 1]

# (record, its ECOSYSTEM events as published, the versions osv.dev enumerated for it)
PYSPARK_RECORDS = [
    ("PYSEC-2022-236",
     [{"introduced": "0"}, {"fixed": "3.1.1"}, {"introduced": "3.2.0"}, {"fixed": "3.2.2"},
      {"introduced": "3.1.1"}, {"fixed": "3.1.3"}],
     [*UP_TO_3_0_3, "3.1.1", "3.1.2", "3.2.0", "3.2.1"]),
    # introduced 3.2.0 comes before fixed 3.2.0 in the record: 3.2.x is not affected.
    ("PYSEC-2023-72",
     [{"introduced": "0"}, {"fixed": "3.1.1"}, {"introduced": "3.2.0"}, {"fixed": "3.2.2"},
      {"introduced": "3.1.1"}, {"fixed": "3.2.0"}],
     [*UP_TO_3_0_3, "3.1.1", "3.1.2", "3.1.3"]),
]


@pytest.mark.parametrize(("osv_id", "events", "listed"), PYSPARK_RECORDS,
                         ids=[r[0] for r in PYSPARK_RECORDS])
def test_range_alone_gives_the_versions_osv_dev_lists(osv_id: str, events: list[dict[str, str]],
                                                      listed: list[str]) -> None:
    entries = [{"ranges": [rng(*events)]}]
    assert [v for v in PYSPARK if is_affected(PYPI, entries, v)] == listed


# (events, installed, affected?): one version's events keep the order they are written in
SAME_VERSION = [
    ([{"introduced": "0"}, {"fixed": "3.1.1"}, {"introduced": "3.1.1"}, {"fixed": "3.1.3"}],
     "3.1.1", True),
    ([{"introduced": "0"}, {"fixed": "3.1.1"}, {"introduced": "3.1.1"}, {"fixed": "3.1.3"}],
     "3.1.2", True),
    ([{"introduced": "0"}, {"introduced": "3.1.1"}, {"fixed": "3.1.1"}, {"fixed": "3.1.3"}],
     "3.1.2", False),
    ([{"introduced": "1.0"}, {"last_affected": "1.0"}], "1.0", True),
    ([{"introduced": "1.0"}, {"last_affected": "1.0"}], "1.0.1", False),
]


@pytest.mark.parametrize(("events", "installed", "expected"), SAME_VERSION)
def test_events_at_one_version_apply_in_record_order(events: list[dict[str, str]],
                                                     installed: str, expected: bool) -> None:
    assert is_affected(PYPI, [{"ranges": [rng(*events)]}], installed) is expected


def test_lowest_fix_after_a_reopened_range() -> None:
    entries = [{"ranges": [rng(*PYSPARK_RECORDS[0][1])]}]
    assert lowest_fix_above(PYPI, entries, "3.1.2") == "3.1.3"
    assert lowest_fix_above(PYPI, entries, "3.2.1") == "3.2.2"


# (ecosystem, affected entries, the reasons given, an installed version)
UNREAD = [
    # PYSEC-2021-371 (binderhub): a GIT range, then an ECOSYSTEM range Roost cannot read
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"fixed": "195caac1726904.patch"},
                            kind="GIT"),
                        rng({"introduced": "0"}, {"fixed": "0.2.0-n653"})]}],
     ["range bound fixed: 0.2.0-n653 is not a PyPI version"], "0.1.0"),
    (PYPI, [{"ranges": [rng({"introduced": "0"}, {"fixed": "2019-09-12"})]}],
     ["range bound fixed: 2019-09-12 is not a PyPI version"], "1.0"),
    (NPM, [{"ranges": [rng({"introduced": "1.0"}, {"fixed": "1.2.0"}, kind="SEMVER")]}],
     ["range bound introduced: 1.0 is not a SemVer version"], "1.1.0"),
    (NPM, [{"ranges": [rng({"introduced": "0"}, {"limit": "next"})]}],
     ["range bound limit: next is not a npm version"], "1.0.0"),
    (PYPI, [{"ranges": [{"type": "ECOSYSTEM", "events": ["0"]}]}],
     ["a range event is not an object: '0'"], "1.0"),
]


@pytest.mark.parametrize(("ecosystem", "entries", "reasons", "installed"), UNREAD)
def test_unreadable_range_is_left_out_with_its_reason(ecosystem: str,
                                                      entries: list[dict[str, Any]],
                                                      reasons: list[str],
                                                      installed: str) -> None:
    assert unread_ranges(compile_entries(ecosystem, entries)) == reasons
    assert not is_affected(ecosystem, entries, installed)


def test_readable_ranges_have_no_reasons() -> None:
    entries = [{"ranges": [rng(*PYSPARK_RECORDS[0][1])]}]
    assert unread_ranges(compile_entries(PYPI, entries)) == []


def _adv(id_: str, events: list[dict[str, str]], aliases: tuple[str, ...] = (),
         versions: tuple[str, ...] = ()) -> IndexedAdvisory:
    entry: dict[str, Any] = {"ranges": [rng(*events)]}
    if versions:
        entry["versions"] = list(versions)
    return IndexedAdvisory(id_, aliases, f"flaw {id_}", "high", None,
                           matcher_json(PYPI, [entry]))


BINDERHUB = [{"introduced": "0"}, {"fixed": "0.2.0-n653"}]
REASON = "range bound fixed: 0.2.0-n653 is not a PyPI version"


def test_unread_advisory_is_reported_not_evaluated_with_its_reason() -> None:
    deps = [dep(PYPI, "binderhub", "0.1.0", "requirements.txt", line=3)]
    findings, not_evaluated = match(deps, {(PYPI, "binderhub"): [
        _adv("PYSEC-2021-371", BINDERHUB, ("CVE-2021-39159",))]})
    assert findings == []
    assert [(n.id, n.package, n.version, n.lockfile, n.line, n.reason) for n in not_evaluated] \
        == [("PYSEC-2021-371", "binderhub", "0.1.0", "requirements.txt", 3, REASON)]


def test_unread_advisory_that_is_part_of_a_finding_is_not_repeated() -> None:
    deps = [dep(PYPI, "binderhub", "0.1.0", "requirements.txt")]
    readable = _adv("GHSA-9jjr-qqfp-ppwx", [{"introduced": "0"}, {"fixed": "0.2.1"}],
                    ("CVE-2021-39159",))
    unread = _adv("PYSEC-2021-371", BINDERHUB, ("CVE-2021-39159",))
    # The same flaw found through its GHSA record: nothing is left unevaluated.
    findings, not_evaluated = match(deps, {(PYPI, "binderhub"): [readable, unread]})
    assert [f.ids for f in findings] == [["CVE-2021-39159", "GHSA-9jjr-qqfp-ppwx"]]
    assert not_evaluated == []
    # Listed in ``versions``: a finding, whatever the unreadable range says.
    listed = _adv("PYSEC-2021-371", BINDERHUB, versions=("0.1.0",))
    findings, not_evaluated = match(deps, {(PYPI, "binderhub"): [listed]})
    assert [f.id for f in findings] == ["PYSEC-2021-371"] and not_evaluated == []

"""`roost vulns` against a real `roost up`: import, scan after build, re-scan, ignore; a
deploy reports what `roost vulns scan` of its directory reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import wait_for
from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok
from tests.monitor.vulns.lockfile_app import LOCKFILES, advisories, write_app
from tests.notify.receivers import Receiver
from tests.wheelhouse import EXAMPLES


def advisory(osv_id: str, package: str, fixed: str, aliases: list[str],
             severity: str = "HIGH") -> dict[str, object]:
    return {"id": osv_id, "modified": "2026-11-01T00:00:00Z", "aliases": aliases,
            "summary": f"flaw in {package}", "database_specific": {"severity": severity},
            "affected": [{"package": {"ecosystem": "PyPI", "name": package},
                          "ranges": [{"type": "ECOSYSTEM",
                                      "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}


UNREAD = "range bound fixed: 0.2.0-n653 is not a PyPI version"
# PYSEC-2021-371's ECOSYSTEM range as published: its bound is not a PyPI version.
BINDERHUB = {"id": "PYSEC-2021-371", "modified": "2021-09-01T12:23:00Z",
             "aliases": ["CVE-2021-39159", "GHSA-9jjr-qqfp-ppwx"], "summary": "binderhub RCE",
             "affected": [{"package": {"ecosystem": "PyPI", "name": "binderhub"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [
                               {"introduced": "0"}, {"fixed": "0.2.0-n653"}]}]}]}


def write(dir_: Path, record: dict[str, Any]) -> None:
    dir_.mkdir(parents=True, exist_ok=True)
    (dir_ / f"{record['id']}.json").write_text(json.dumps(record))


def test_scan_import_build_hook_rescan_ignore(server: Server, wheelhouse: dict[str, str],
                                              tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        run_flow(server, wheelhouse, tmp_path, receiver)
    finally:
        receiver.stop()


def run_flow(server: Server, wheelhouse: dict[str, str], tmp_path: Path,
             receiver: Receiver) -> None:
    empty = server.roost("vulns", "scan", str(EXAMPLES / "python-app"))
    assert empty.returncode == 2 and "empty" in empty.stderr.lower()

    db = tmp_path / "osv"
    write(db, advisory("GHSA-aaaa-bbbb-cccc", "gunicorn", "99.0", ["CVE-2026-0001"]))
    write(db, advisory("PYSEC-2026-1", "gunicorn", "99.0", ["CVE-2026-0001"]))
    assert "Imported 2 new" in ok(server, "vulns", "db", "import", str(db))
    stats = json.loads(ok(server, "vulns", "db", "--json"))
    assert stats["per_ecosystem"] == {"PyPI": 2}

    local = server.roost("vulns", "scan", str(EXAMPLES / "python-app"), "--json")
    assert local.returncode == 1, local.stderr
    findings = json.loads(local.stdout)["findings"]
    assert len(findings) == 1 and set(findings[0]["ids"]) >= {"GHSA-aaaa-bbbb-cccc",
                                                              "PYSEC-2026-1", "CVE-2026-0001"}
    assert findings[0]["fixed"] == "99.0"
    sarif = server.roost("vulns", "scan", str(EXAMPLES / "python-app"), "--format", "sarif")
    assert sarif.returncode == 1 and json.loads(sarif.stdout)["version"] == "2.1.0"

    ok(server, "apps", "create", "py")
    ok(server, "maintainers", "add", "py", "--name", "Ada", "--email", "ada@example.com",
       "--notify", receiver.json_url("ada"))
    ok(server, "config", "set", "py", *(f"{k}={v}" for k, v in wheelhouse.items()))
    deployed = server.roost("deploy", "py", str(EXAMPLES / "python-app"), timeout=300)
    assert deployed.returncode == 0, deployed.stderr
    assert "new vulnerable dependencies" in deployed.stdout
    shown = server.roost("vulns", "py", "--json")
    assert shown.returncode == 1
    assert json.loads(shown.stdout)["findings"][0]["package"] == "gunicorn"
    wait_for(lambda: any("gunicorn" in json.dumps(p) for p in receiver.json_posts), timeout=30)
    assert sum("CVE-2026-0001" in json.dumps(p) for p in receiver.json_posts) == 1

    # A database update that concerns the deployed app re-scans it without a deploy.
    more = tmp_path / "osv2"
    write(more, advisory("GHSA-dddd-eeee-ffff", "gunicorn", "98.0", [], "CRITICAL"))
    out = ok(server, "vulns", "db", "import", str(more))
    assert "py: 1 new findings" in out
    assert len(json.loads(server.roost("vulns", "py", "--json").stdout)["findings"]) == 2
    wait_for(lambda: any("GHSA-dddd-eeee-ffff" in json.dumps(p) for p in receiver.json_posts),
             timeout=30)

    ok(server, "vulns", "ignore", "py", "CVE-2026-0001", "--reason", "not reachable",
       "--until", "2099-01-01")
    ok(server, "vulns", "ignore", "py", "GHSA-dddd-eeee-ffff", "--reason", "patched in proxy")
    clean = server.roost("vulns", "py")
    assert clean.returncode == 0, clean.stdout
    past = server.roost("vulns", "ignore", "py", "GHSA-dddd-eeee-ffff", "--reason", "x",
                        "--until", "2000-01-01")
    assert past.returncode != 0 and "past" in past.stderr


def test_bad_input(server: Server, tmp_path: Path) -> None:
    broken = tmp_path / "osv"
    broken.mkdir()
    (broken / "bad.json").write_text("{not json")
    result = server.roost("vulns", "db", "import", str(broken))
    assert result.returncode != 0 and "bad.json" in result.stderr
    assert json.loads(ok(server, "vulns", "db", "--json"))["total"] == 0
    lock = tmp_path / "package-lock.json"
    lock.write_text('{"lockfileVersion": 3, "packages": ')
    write(tmp_path / "db2", advisory("GHSA-x", "django", "4.0", []))
    ok(server, "vulns", "db", "import", str(tmp_path / "db2"))
    scan = server.roost("vulns", "scan", str(lock))
    assert scan.returncode == 2 and "package-lock.json" in scan.stderr
    missing = server.roost("vulns", "nope")
    assert missing.returncode == 2 and "no app named" in missing.stderr


def test_deploy_reports_what_vulns_scan_reports(server: Server, tmp_path: Path) -> None:
    # requirements-prod.txt, gems.locked and npm-shrinkwrap.json: the deploy's scan must find
    # the lockfiles `roost vulns scan` finds, and the same advisories in them.
    app = write_app(tmp_path / "shop")
    with (app / "requirements-prod.txt").open("a") as fh:
        fh.write("binderhub==0.1.0\n")
    db = tmp_path / "osv"
    for rec in [*advisories(), BINDERHUB]:
        write(db, rec)
    assert "Imported 9 new" in ok(server, "vulns", "db", "import", str(db))

    local = server.roost("vulns", "scan", str(app), "--json")
    assert local.returncode == 1, local.stderr
    scanned = json.loads(local.stdout)
    assert scanned["lockfiles"] == LOCKFILES and len(scanned["findings"]) == 8
    assert [(n["id"], n["package"], n["reason"]) for n in scanned["not_evaluated"]] == [
        ("PYSEC-2021-371", "binderhub", UNREAD)]
    table = server.roost("vulns", "scan", str(app))
    assert f"not evaluated: PYSEC-2021-371 for binderhub 0.1.0 (requirements-prod.txt): " \
           f"{UNREAD}" in table.stdout

    ok(server, "apps", "create", "shop")
    deployed = server.roost("deploy", "shop", str(app), timeout=300)
    assert deployed.returncode == 0, deployed.stderr
    assert "8 new vulnerable dependencies" in deployed.stdout
    shown = server.roost("vulns", "shop", "--json")
    assert shown.returncode == 1, shown.stderr
    report = json.loads(shown.stdout)
    assert report["lockfiles"] == scanned["lockfiles"]
    assert sorted(f["id"] for f in report["findings"]) == \
        sorted(f["id"] for f in scanned["findings"])
    assert report["not_evaluated"] == scanned["not_evaluated"]
    assert "not evaluated: PYSEC-2021-371" in server.roost("vulns", "shop").stdout

"""`roost deploy --dry-run` against a real `roost up`: each step numbered as in the JSON plan,
skipped ones with the server's reason, nothing uploaded (tests/e2e/test_addons.py runs it
with an add-on attached)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Server
from tests.e2e.test_foundation import ok, refused


def test_dry_run_numbers_the_steps_and_changes_nothing(server: Server, tmp_path: Path) -> None:
    ok(server, "apps", "create", "plan")
    (tmp_path / "Procfile").write_text("web: python3 -m http.server $PORT\n")
    shown = ok(server, "deploy", "--dry-run", "plan", str(tmp_path))
    lines = shown.splitlines()
    assert "nothing uploaded" in lines[0]
    plan = json.loads(ok(server, "deploy", "--dry-run", "plan", str(tmp_path), "--json"))
    assert plan["app"] == "plan"
    names = [step["name"] for step in plan["steps"]]
    assert {"build", "release", "activate"} <= set(names)
    for number, step in enumerate(plan["steps"], 1):
        line = lines[number]
        assert line.split()[:2] == [f"{number}.", step["name"]]
        # the advisory database is empty in tests: the scan is skipped and says why
        assert ("skipped: " + step["reason"] in line) == (not step["runs"])
    assert not all(step["runs"] for step in plan["steps"])
    assert json.loads(ok(server, "builds", "plan", "--json")) == []
    assert json.loads(ok(server, "releases", "plan", "--json")) == []
    refused(server, "deploy", "--dry-run", "ghost", str(tmp_path), says="no app named 'ghost'")

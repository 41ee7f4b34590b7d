"""`roost deploy`, builds, releases and rollback against a real `roost up`."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.e2e.conftest import ROOST, Server, shared
from tests.e2e.test_foundation import ok
from tests.wheelhouse import EXAMPLES


def deploy(server: Server, app: str, source: Path) -> subprocess.CompletedProcess[str]:
    return server.roost("deploy", app, str(source), timeout=300)


def setup_python_app(server: Server, wheelhouse: dict[str, str], name: str = "py") -> None:
    ok(server, "apps", "create", name)
    ok(server, "config", "set", name, *(f"{k}={v}" for k, v in wheelhouse.items()))


def test_deploy_python_example_then_rollback(server: Server, wheelhouse: dict[str, str],
                                             tmp_path: Path) -> None:
    setup_python_app(server, wheelhouse)
    result = deploy(server, "py", EXAMPLES / "python-app")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Released v1" in result.stdout
    assert "python" in result.stdout.lower()  # the build output was streamed

    src = tmp_path / "src"
    shutil.copytree(EXAMPLES / "python-app", src)
    (src / "app.py").write_text((src / "app.py").read_text() + "\n# changed\n")
    assert "Released v2" in deploy(server, "py", src).stdout

    releases = json.loads(ok(server, "releases", "py", "--json"))
    assert [r["version"] for r in releases] == [2, 1]
    assert releases[0]["current"] and releases[0]["process_types"]["web"].startswith("gunicorn")
    info = json.loads(ok(server, "releases", "info", "py", "v1", "--json"))
    assert "PIP_NO_INDEX" in info["config_keys"]

    ok(server, "config", "set", "py", "GREETING=hi")
    assert json.loads(ok(server, "releases", "py", "--json"))[0]["description"] == "config change"

    assert "v4" in ok(server, "rollback", "py", "v1")
    now = json.loads(ok(server, "releases", "py", "--json"))[0]
    assert now["version"] == 4 and now["meta"]["rollback_of"] == 1
    assert now["slug_key"] == info["slug_key"]
    # rollback restores v1's config: GREETING did not exist then
    assert "GREETING" not in json.loads(ok(server, "config", "py", "--json"))

    builds = json.loads(ok(server, "builds", "py", "--json"))
    assert [b["status"] for b in builds] == ["succeeded", "succeeded"]


def test_slug_runs_by_hand(server: Server, wheelhouse: dict[str, str], tmp_path: Path) -> None:
    setup_python_app(server, wheelhouse, "byhand")
    assert deploy(server, "byhand", EXAMPLES / "python-app").returncode == 0
    key = json.loads(ok(server, "releases", "byhand", "--json"))[0]["slug_key"]
    slug = server.home / "objects" / key
    with tarfile.open(slug) as tar:
        names = tar.getnames()
    assert any(n.endswith("Procfile") for n in names)
    assert any(".venv" in n for n in names)
    assert any(n.endswith("site-packages/roost/agent/wsgi.py") for n in names)


def test_failed_build_creates_no_release(server: Server, tmp_path: Path) -> None:
    ok(server, "apps", "create", "broken")
    src = tmp_path / "broken"
    src.mkdir()
    (src / "README").write_text("nothing any buildpack recognises\n")
    result = deploy(server, "broken", src)
    assert result.returncode != 0
    assert "failed" in result.stderr and "detect" in result.stderr
    assert json.loads(ok(server, "releases", "broken", "--json")) == []
    assert json.loads(ok(server, "builds", "broken", "--json"))[0]["status"] == "failed"


def test_compile_failure_names_step_and_keeps_current(server: Server, tmp_path: Path) -> None:
    ok(server, "apps", "create", "proc")
    src = tmp_path / "proc"
    src.mkdir()
    (src / "Procfile").write_text("web: python3 -m http.server $PORT\n")
    assert deploy(server, "proc", src).returncode == 0
    bp = tmp_path / "bad-bp"
    (bp / "bin").mkdir(parents=True)
    (bp / "bin" / "detect").write_text("#!/bin/sh\necho bad\n")
    (bp / "bin" / "compile").write_text("#!/bin/sh\necho compiling; echo boom >&2; exit 3\n")
    (bp / "bin" / "release").write_text("#!/bin/sh\necho '--- {}'\n")
    for f in (bp / "bin").iterdir():
        f.chmod(0o755)
    ok(server, "buildpacks", "set", "proc", str(bp))
    result = deploy(server, "proc", src)
    assert result.returncode != 0 and "compile" in result.stderr
    assert "boom" in result.stdout + result.stderr
    releases = json.loads(ok(server, "releases", "proc", "--json"))
    assert [r["version"] for r in releases] == [1] and releases[0]["current"]


def test_second_concurrent_deploy_is_refused(server: Server, tmp_path: Path) -> None:
    ok(server, "apps", "create", "busy")
    bp = tmp_path / "slow-bp"
    (bp / "bin").mkdir(parents=True)
    gate = shared(tmp_path) / "gate"  # builds see it read-only, nothing else of the test's
    (bp / "bin" / "detect").write_text("#!/bin/sh\necho slow\n")
    (bp / "bin" / "compile").write_text(
        f"#!/bin/sh\necho compile started\nwhile [ ! -e {gate} ]; do sleep 0.05; done\n")
    (bp / "bin" / "release").write_text("#!/bin/sh\necho '--- {}'\n")
    for f in (bp / "bin").iterdir():
        f.chmod(0o755)
    ok(server, "buildpacks", "set", "busy", str(bp))
    src = tmp_path / "busy"
    src.mkdir()
    (src / "Procfile").write_text("web: python3 -m http.server $PORT\n")
    first = subprocess.Popen([ROOST, "deploy", "busy", str(src)], env=server.env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert first.stdout is not None
    for line in first.stdout:  # the build's output streams live
        if "compile started" in line:
            break
    second = deploy(server, "busy", src)
    gate.touch()
    rest = first.communicate(timeout=120)[0]
    assert second.returncode != 0 and "already running" in second.stderr
    assert first.returncode == 0, rest
    releases = json.loads(ok(server, "releases", "busy", "--json"))
    assert [r["version"] for r in releases] == [1]


def test_deploy_refusals(server: Server, tmp_path: Path) -> None:
    result = server.roost("deploy", "nope", str(tmp_path))
    assert result.returncode != 0 and "no app named" in result.stderr
    ok(server, "apps", "create", "x")
    result = server.roost("deploy", "x", str(tmp_path / "missing"))
    assert result.returncode != 0 and "not a directory" in result.stderr
    result = server.roost("rollback", "x")
    assert result.returncode != 0 and "no current release" in result.stderr
    result = server.roost("releases", "info", "x", "banana")
    assert result.returncode != 0 and "write it as v3" in result.stderr

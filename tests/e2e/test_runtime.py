"""Running apps through the CLI: router URL, ps, scale, logs, run, domains, restarts."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from roost.runtime.spawn import running
from tests.conftest import wait_for
from tests.e2e.conftest import Server, home_for, start_server, stop_server
from tests.e2e.test_foundation import ok
from tests.wheelhouse import EXAMPLES


def router(server: Server) -> str:
    return "http://" + server.env["ROOST_ROUTER_LISTEN"]


def get(server: Server, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(router(server) + path, headers={"Host": host}, timeout=10)


@pytest.fixture(scope="module")
def py(tmp_path_factory: pytest.TempPathFactory, wheelhouse: dict[str, str]) -> Iterator[Server]:
    """One `roost up` with the Python example deployed as ``py``, shared by the tests below."""
    tmp = tmp_path_factory.mktemp("runtime")
    srv = start_server(tmp)
    try:
        ok(srv, "apps", "create", "py")
        ok(srv, "config", "set", "py", *(f"{k}={v}" for k, v in wheelhouse.items()))
        deployed = srv.roost("deploy", "py", str(EXAMPLES / "python-app"), timeout=300)
        assert deployed.returncode == 0, deployed.stderr
        yield srv
    finally:
        stop_server(srv)
        shutil.rmtree(home_for(tmp).parent, ignore_errors=True)


def ps(server: Server) -> list[dict[str, object]]:
    """``roost ps py --json``."""
    return list(json.loads(ok(server, "ps", "py", "--json")))


def current_release(server: Server) -> int:
    """The number of py's current release."""
    return next(int(r["version"]) for r in json.loads(ok(server, "releases", "py", "--json"))
                if r["current"])


@contextmanager
def under_load(server: Server) -> Iterator[list[str]]:
    """Request py's health check in a loop meanwhile; yields the failures seen."""
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        for _ in range(2000):
            if stop.is_set():
                return
            try:
                r = get(server, "py.localhost", "/health")
                if r.status_code != 200:
                    failures.append(str(r.status_code))
            except httpx.HTTPError as exc:
                failures.append(repr(exc))

    t = threading.Thread(target=hammer)
    t.start()
    try:
        yield failures
    finally:
        stop.set()
        t.join(timeout=30)


def test_example_serves_its_current_release_behind_the_router(py: Server) -> None:
    page = get(py, "py.localhost")
    assert page.status_code == 200 and f"Release v{current_release(py)}" in page.text


def test_ps_lists_the_web_process_up(py: Server) -> None:
    wait_for(lambda: [(p["name"], p["state"]) for p in ps(py)] == [("web.1", "up")])


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` that are not bwrap's own (the app's)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            for child in (task / "children").read_text().split():
                todo.append(int(child))
                if "bwrap" not in Path(f"/proc/{child}/comm").read_text():
                    found.append(int(child))
    return found


def test_app_processes_run_as_a_user_of_their_own(py: Server) -> None:
    # Roost runs as root here, so by default its apps do not: a system user of their own,
    # inside the sandbox that bwrap (the process Roost started) holds.
    expected = pwd.getpwnam("roost-app-py").pw_uid if os.geteuid() == 0 else os.geteuid()
    owners = {Path(f"/proc/{pid}").stat().st_uid for p in ps(py) for pid in descendants(p["pid"])}
    assert owners == {expected}


def test_example_reports_its_traffic_to_the_perf_monitor(py: Server) -> None:
    # The example app reports its traffic through roost.agent to the perf monitor.
    for _ in range(20):
        get(py, "py.localhost")

    def traced() -> bool:
        rows = json.loads(ok(py, "perf", "py", "--json"))
        return any(r["endpoint"].endswith(" /") and r["requests"] >= 20 for r in rows)

    wait_for(traced, timeout=60, interval=1)


def test_deploy_adds_a_health_monitor_that_sees_the_app_up(py: Server) -> None:
    [monitor] = json.loads(ok(py, "monitors", "py", "--json"))
    assert monitor["owner"] == "app" and monitor["target"].endswith("/health")
    wait_for(lambda: json.loads(ok(py, "monitors", "info", str(monitor["id"]), "--json"))
             ["monitor"]["state"] == "up", timeout=90, interval=1)


def test_config_change_cuts_a_release_hot(py: Server) -> None:
    before = current_release(py)
    with under_load(py) as failures:
        ok(py, "config", "set", "py", "GREETING=hello")
    assert failures == []
    assert f"Release v{before + 1}" in get(py, "py.localhost").text


def test_scaling_up_and_down_drops_nothing(py: Server) -> None:
    with under_load(py) as failures:
        ok(py, "scale", "py", "web=2")
        assert sorted(p["name"] for p in ps(py)) == ["web.1", "web.2"]
        ok(py, "scale", "py", "web=1")
    assert failures == []
    assert [p["name"] for p in ps(py)] == ["web.1"]


def test_restart_replaces_processes_without_dropping_requests(py: Server) -> None:
    old = {p["pid"] for p in ps(py)}
    with under_load(py) as failures:
        ok(py, "restart", "py")
    assert failures == []
    assert not old & {p["pid"] for p in ps(py)}


def test_run_gets_the_app_config_and_its_exit_code(py: Server, wheelhouse: dict[str, str]
                                                    ) -> None:
    out = py.roost("run", "py", "--", "python", "-c",
                   "import os; print(os.environ['PIP_FIND_LINKS']); raise SystemExit(4)")
    assert out.returncode == 4 and out.stdout.strip() == wheelhouse["PIP_FIND_LINKS"]


def test_logs_show_app_output_and_platform_events(py: Server) -> None:
    logs = ok(py, "logs", "py", "-n", "200")
    assert "app[web.1]" in logs and "roost[deploy]" in logs


def test_logs_filter_by_source(py: Server) -> None:
    only_roost = ok(py, "logs", "py", "--source", "roost")
    assert "roost[" in only_roost and "app[" not in only_roost


def test_custom_domain_routes_to_the_app(py: Server) -> None:
    ok(py, "domains", "add", "py", "www.example.com")
    assert get(py, "www.example.com", "/health").status_code == 200


@pytest.mark.parametrize(("host", "says"), [("py.localhost", "already routes to py"),
                                            ("not a host", "invalid hostname")])
def test_bad_domain_is_refused_and_changes_nothing(py: Server, host: str, says: str) -> None:
    before = ok(py, "domains", "py")
    result = py.roost("domains", "add", "py", host)
    assert result.returncode != 0 and says in result.stderr
    assert ok(py, "domains", "py") == before


@pytest.mark.parametrize(("args", "says"), [(["worker=1"], "no process type"),
                                            (["web=-2"], "0 or more"),
                                            (["web=999"], "over the limit"),
                                            (["web"], "TYPE=N")])
def test_bad_scale_is_refused_and_changes_nothing(py: Server, args: list[str], says: str
                                                  ) -> None:
    before = [p["pid"] for p in ps(py)]
    result = py.roost("scale", "py", *args)
    assert result.returncode != 0 and says in result.stderr
    assert [p["pid"] for p in ps(py)] == before


def test_rollback_restores_the_old_slug_and_its_config(py: Server) -> None:
    ok(py, "config", "set", "py", "ROLLBACK_PROBE=set")
    probed = current_release(py)
    ok(py, "rollback", "py", f"v{probed - 1}")
    assert f"Release v{probed + 1}" in get(py, "py.localhost").text
    gone = py.roost("run", "py", "--", "sh", "-c", "echo ${ROLLBACK_PROBE:-unset}")
    assert gone.stdout.strip() == "unset"  # the earlier config came back with its slug


def test_broken_release_keeps_old_serving(server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ok(server, "apps", "create", "web")
    src = tmp_path / "web"
    src.mkdir()
    (src / "Procfile").write_text("web: python3 -m http.server $PORT --bind 127.0.0.1\n")
    (src / "index.html").write_text("version one\n")
    assert server.roost("deploy", "web", str(src)).returncode == 0
    assert "version one" in get(server, "web.localhost").text
    (src / "Procfile").write_text("web: echo starting; exit 1\n")
    (src / "index.html").write_text("version two\n")
    result = server.roost("deploy", "web", str(src))
    assert result.returncode != 0 and "did not become healthy" in result.stderr
    assert "version one" in get(server, "web.localhost").text
    releases = json.loads(ok(server, "releases", "web", "--json"))
    assert [(r["version"], r["status"]) for r in releases] == [(2, "failed"), (1, "succeeded")]


def deploy_static_site(srv: Server, tmp_path: Path) -> None:
    """Create the app ``web`` and deploy a static page saying ``still here``."""
    ok(srv, "apps", "create", "web")
    src = tmp_path / "web"
    src.mkdir()
    (src / "Procfile").write_text("web: python3 -m http.server $PORT --bind 127.0.0.1\n")
    (src / "index.html").write_text("still here\n")
    assert srv.roost("deploy", "web", str(src)).returncode == 0


def test_restart_of_roost_up_restores_apps(tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = start_server(tmp_path)
    try:
        deploy_static_site(srv, tmp_path)
        ok(srv, "scale", "web", "web=2")
    finally:
        stop_server(srv)
    again = start_server(tmp_path, {k: v for k, v in srv.env.items() if k.startswith("ROOST_")})
    try:
        wait_for(lambda: get(again, "web.localhost").status_code == 200, timeout=30)
        assert "still here" in get(again, "web.localhost").text
        assert len(json.loads(ok(again, "ps", "web", "--json"))) == 2
    finally:
        stop_server(again)


def test_roost_up_starts_again_after_a_crash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = start_server(tmp_path)
    try:
        deploy_static_site(srv, tmp_path)
        old_pid = json.loads(ok(srv, "ps", "web", "--json"))[0]["pid"]
    finally:
        os.kill(srv.proc.pid, signal.SIGKILL)  # roost up alone: no drain, no cleanup
        srv.proc.wait()
    # The crashed run's Caddy, resolver and app processes still hold their ports: the new
    # run ends them first.
    again = start_server(tmp_path, {k: v for k, v in srv.env.items() if k.startswith("ROOST_")})
    try:
        wait_for(lambda: get(again, "web.localhost").status_code == 200, timeout=30)
        # Every answer comes from the new run (Caddy shares its port with SO_REUSEPORT, so a
        # leftover router would take a share of the requests to a process that is gone).
        answers = {get(again, "web.localhost").text for _ in range(30)}
        assert answers == {"still here\n"}
        [proc] = json.loads(ok(again, "ps", "web", "--json"))
        assert proc["pid"] != old_pid and not running(old_pid)
    finally:
        stop_server(again)

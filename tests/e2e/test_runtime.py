"""Running apps through the CLI: router URL, ps, scale, logs, run, domains, restarts."""

from __future__ import annotations

import json
import os
import pwd
import signal
import threading
from pathlib import Path

import httpx

from roost.runtime.spawn import running
from tests.conftest import wait_for
from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.test_foundation import ok
from tests.wheelhouse import EXAMPLES


def router(server: Server) -> str:
    return "http://" + server.env["ROOST_ROUTER_LISTEN"]


def get(server: Server, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(router(server) + path, headers={"Host": host}, timeout=10)


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


def test_example_runs_behind_router(server: Server, wheelhouse: dict[str, str]) -> None:
    ok(server, "apps", "create", "py")
    ok(server, "config", "set", "py", *(f"{k}={v}" for k, v in wheelhouse.items()))
    deployed = server.roost("deploy", "py", str(EXAMPLES / "python-app"), timeout=300)
    assert deployed.returncode == 0, deployed.stderr
    page = get(server, "py.localhost")
    assert page.status_code == 200 and "Release v1" in page.text

    ps = json.loads(ok(server, "ps", "py", "--json"))
    assert [(p["name"], p["state"]) for p in ps] == [("web.1", "up")]
    # Roost runs as root here, so by default its apps do not: a system user of their own,
    # inside the sandbox that bwrap (the process Roost started) holds.
    owners = {Path(f"/proc/{pid}").stat().st_uid for pid in descendants(ps[0]["pid"])}
    assert owners == {pwd.getpwnam("roost-app-py").pw_uid if os.geteuid() == 0
                      else os.geteuid()}

    # The example app reports its traffic through roost.agent to the perf monitor.
    for _ in range(20):
        get(server, "py.localhost")

    def traced() -> bool:
        rows = json.loads(ok(server, "perf", "py", "--json"))
        return any(r["endpoint"].endswith(" /") and r["requests"] >= 20 for r in rows)

    wait_for(traced, timeout=60, interval=1)
    [monitor] = json.loads(ok(server, "monitors", "py", "--json"))
    assert monitor["owner"] == "app" and monitor["target"].endswith("/health")
    wait_for(lambda: json.loads(ok(server, "monitors", "info", str(monitor["id"]), "--json"))
             ["monitor"]["state"] == "up", timeout=90, interval=1)

    # A config change under load: a new release, hot, nothing dropped.
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
        ok(server, "config", "set", "py", "GREETING=hello")
        ok(server, "scale", "py", "web=2")
        ok(server, "restart", "py")
        ok(server, "scale", "py", "web=1")
    finally:
        stop.set()
        t.join(timeout=30)
    assert failures == []
    assert "Release v2" in get(server, "py.localhost").text

    out = server.roost("run", "py", "--", "python", "-c",
                       "import os; print(os.environ['GREETING']); raise SystemExit(4)")
    assert out.returncode == 4 and out.stdout.strip() == "hello"

    logs = ok(server, "logs", "py", "-n", "200")
    assert "app[web.1]" in logs and "roost[deploy]" in logs
    only_roost = ok(server, "logs", "py", "--source", "roost")
    assert "app[" not in only_roost

    ok(server, "domains", "add", "py", "www.example.com")
    assert get(server, "www.example.com", "/health").status_code == 200
    taken = server.roost("domains", "add", "py", "www.example.com")
    assert taken.returncode != 0 and "already routes" in taken.stderr
    bad = server.roost("domains", "add", "py", "not a host")
    assert bad.returncode != 0 and "invalid hostname" in bad.stderr

    for args, says in [(["scale", "py", "worker=1"], "no process type"),
                       (["scale", "py", "web=-2"], "0 or more"),
                       (["scale", "py", "web=999"], "over the limit"),
                       (["scale", "py", "web"], "TYPE=N")]:
        result = server.roost(*args)
        assert result.returncode != 0 and says in result.stderr, (args, result.stderr)
    assert len(json.loads(ok(server, "ps", "py", "--json"))) == 1

    ok(server, "rollback", "py", "v1")
    assert "Release v3" in get(server, "py.localhost").text
    gone = server.roost("run", "py", "--", "sh", "-c", "echo ${GREETING:-unset}")
    assert gone.stdout.strip() == "unset"  # v1's config came back with its slug


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

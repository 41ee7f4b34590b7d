"""Process supervision: environment, logs, crashes, scaling rules and one-off runs."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from roost.errors import InvalidInput
from roost.runtime import oneoff, sandbox, spawn, users
from tests.conftest import wait_for
from tests.runtime.conftest import Platform

HOST = "shop.localhost"


def test_environment_profile_and_logs(platform: Platform) -> None:
    spec = platform.spec("shop", 1, "port", extra={"GREETING": "hi there"}, health=None,
                         types={"web": "python3 -m http.server $PORT --bind 127.0.0.1",
                                "worker": "echo \"$GREETING from $DYNO $FROM_PROFILE\"; "
                                          "exec sleep 60"})
    (spec.directory / ".profile.d").mkdir()
    (spec.directory / ".profile.d" / "x.sh").write_text("export FROM_PROFILE=profiled\n")
    platform.supervisor.deploy(spec, {"web": 1, "worker": 1}, [HOST])
    wait_for(lambda: platform.logs.tail("shop", 50, source="worker.1"), timeout=10)
    [line] = platform.logs.tail("shop", 50, source="worker.1")
    assert line.endswith("app[worker.1]: hi there from worker.1 profiled")
    assert httpx.get(platform.url(), headers={"Host": HOST}).status_code == 200
    assert any("roost[deploy]" in x for x in platform.logs.tail("shop", 50, source="roost"))


def test_crash_backoff_then_crashed_and_maintainers_told(platform: Platform) -> None:
    spec = platform.spec("shop", 1, "port", health=None,
                         types={"web": "python3 -m http.server $PORT --bind 127.0.0.1",
                                "worker": "echo working; exit 1"})
    platform.supervisor.deploy(spec, {"web": 1, "worker": 1}, [HOST])
    wait_for(lambda: any(p["state"] == "crashed" for p in platform.supervisor.ps("shop")),
             timeout=30)
    crashed = [p for p in platform.supervisor.ps("shop") if p["state"] == "crashed"]
    assert crashed[0]["name"] == "worker.1" and crashed[0]["restarts"] == 2
    assert platform.supervisor.crashes == [("shop", "worker.1")]  # type: ignore[attr-defined]
    log = "\n".join(platform.logs.tail("shop", 100))
    assert "restarting in 1s" in log and "restarting in 2s" in log and "marked crashed" in log


@pytest.mark.parametrize(("change", "says"), [
    ({"worker": 1}, "no process type 'worker'"),
    ({"web": -1}, "0 or more"),
    ({"web": 99}, "over the limit"),
])
def test_scale_refusals_change_nothing(platform: Platform, change: dict[str, int],
                                       says: str) -> None:
    platform.supervisor.deploy(platform.spec("shop", 1, "port"), {"web": 1}, [HOST])
    with pytest.raises(InvalidInput, match=says):
        platform.supervisor.scale("shop", change)
    assert [p["name"] for p in platform.supervisor.ps("shop")] == ["web.1"]


def test_one_off_run_streams_output_and_exit_code(platform: Platform) -> None:
    spec = platform.spec("shop", 1, "port", extra={"SECRET": "s3"})
    out = list(oneoff.run(spec, "echo $SECRET $DYNO; echo err >&2; exit 7"))
    assert out == ["s3 run.1", "err", 7]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run apps as another user")
def test_apps_run_as_their_own_user_in_a_sandbox(platform: Platform) -> None:
    """Each app has a Unix user of its own; its writes to /app vanish with the process."""
    spec = platform.spec("shop", 1, "port", health=None, types={
        "web": "exec /usr/bin/python3 -m http.server $PORT --bind 127.0.0.1"})
    (spec.directory / "data.txt").write_text("readable\n")
    sandbox.seal_release(spec.directory, sandbox.app_group("shop", "auto"))  # as Runtime does
    out = list(oneoff.run(spec, "id -un; pwd; cat data.txt; echo x > data.txt && echo wrote; "
                               "cat data.txt; cd /proc && echo [0-9]*",
                          platform.supervisor.launcher))
    assert out == ["roost-app-shop", "/app", "readable", "wrote", "x", "1 2", 0]
    assert (spec.directory / "data.txt").read_text() == "readable\n"
    other = platform.spec("blog", 1, "port")
    assert list(oneoff.run(other, "id -un", platform.supervisor.launcher))[0] == "roost-app-blog"
    platform.supervisor.deploy(spec, {"web": 1}, [HOST])
    [proc] = platform.supervisor.ps("shop")
    uid = users.ids("roost-app-shop")[0]
    assert users.UID_MIN <= uid <= users.UID_MAX
    inside = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == proc["pid"]]
    assert inside and all(Path(f"/proc/{p}").stat().st_uid in (0, uid) for p in inside)
    assert httpx.get(platform.url("/data.txt"), headers={"Host": HOST}).text == "readable\n"


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return -1


def test_logs_rotate_at_their_size_limit_and_keep_the_newest(tmp_path: Path) -> None:
    from roost.runtime.logs import AppLogs

    logs = AppLogs(tmp_path, max_bytes=2000)
    for i in range(200):
        logs.write("shop", "app[web.1]" if i % 2 else "roost[deploy]", f"line {i}")
    assert logs.path("shop").stat().st_size <= 2000 + 100
    assert logs.path("shop").with_suffix(".log.1").exists()
    assert logs.tail("shop", 2)[-1].endswith("app[web.1]: line 199")
    assert [x.rsplit(" ", 1)[1] for x in logs.tail("shop", 3, source="roost")] == [
        "194", "196", "198"]
    logs.remove("shop")
    logs.write("shop", "roost[deploy]", "fresh")
    assert [x.split(": ", 1)[1] for x in logs.tail("shop", 10)] == ["fresh"]


def test_stop_leaves_no_process_behind_even_mid_drain(platform: Platform) -> None:
    sup = platform.supervisor
    sup.deploy(platform.spec("shop", 1, "port"), {"web": 2}, [HOST])
    pids = [int(p["pid"]) for p in sup.ps("shop")]  # type: ignore[call-overload]
    sup.scale("shop", {"web": 1})  # web.2 now waits out its settle time before SIGTERM
    sup.stop()
    # Nothing of their process groups runs any more (bwrap's own init inside each sandbox
    # may linger a moment as a zombie until the host's init reaps it: it runs nothing).
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _alive_in(p, pids)]


def _alive_in(proc: Path, groups: list[int]) -> bool:
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return int(fields[2]) in groups and fields[0] not in ("Z", "X")


PRIORITY_APP = '''
import http.server, os, signal

def state():
    try:
        group = open("/proc/self/autogroup").read().split()[-1]
    except OSError:  # a kernel without autogroup
        group = "-"
    return f"{os.getpriority(os.PRIO_PROCESS, 0)} {group}"

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            print("boot:", state(), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

def stop(*args):
    print("term:", state(), flush=True)
    os._exit(0)

signal.signal(signal.SIGTERM, stop)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


def test_booting_and_draining_generations_yield_the_cpu(platform: Platform) -> None:
    """A new release boots, and an old one shuts down, at the lowest priority (its session's
    too), so the generation serving users keeps the CPU; the new one serves at normal
    priority once healthy."""
    sup = platform.supervisor
    command = "exec python3 prio.py"
    specs = [platform.spec("shop", n, "port", web=command) for n in (1, 2)]
    for spec in specs:
        (spec.directory / "prio.py").write_text(PRIORITY_APP)
    has_groups = Path("/proc/self/autogroup").exists()
    low = 19 if spawn.may_raise_priority() else 0  # lowered only when it can be restored

    def said(word: str) -> list[str]:  # what the app printed (its files live in its sandbox)
        lines = platform.logs.tail("shop", 200, source="web.1")
        return [x.split(f"{word}: ", 1)[1] for x in lines if f": {word}: " in x]

    sup.deploy(specs[0], {"web": 1}, [HOST])
    wait_for(lambda: said("boot"), timeout=10)
    assert said("boot")[0] == f"{low} {low if has_groups else '-'}"
    pid = sup.apps["shop"].procs["web.1"].popen.pid
    assert os.getpriority(os.PRIO_PROCESS, pid) == 0
    if has_groups:
        assert Path(f"/proc/{pid}/autogroup").read_text().split()[-1] == "0"

    sup.deploy(specs[1], {"web": 1}, [HOST])
    wait_for(lambda: said("term"), timeout=15)
    assert said("term") == [f"19 {19 if has_groups else '-'}"]

"""Resource limits: parsing, and cgroups that stop a process over its memory or pids."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from roost.errors import InvalidInput
from roost.runtime.cgroups import Cgroups
from roost.runtime.limits import ResourceLimits, for_type, format_memory, parse_changes
from tests.conftest import wait_for
from tests.runtime.conftest import Platform

HOST = "shop.localhost"
WEB = "exec /usr/bin/python3 -m http.server $PORT --bind 127.0.0.1"
needs_cgroups = pytest.mark.skipif(os.geteuid() != 0 or not Cgroups(None).available,
                                   reason="limits need root and a writable cgroup hierarchy")


def test_limits_parse_store_and_refuse_bad_values() -> None:
    assert parse_changes({"memory": "1.5G", "cpu": "0.5", "pids": "64"}) == {
        "memory": "1536M", "cpu": 0.5, "pids": 64}
    assert format_memory(512 * 1024 ** 2) == "512M"
    default = ResourceLimits()
    stored = {"limits": {"web": {"memory": "1G"}}}
    assert for_type(stored, "web", default) == ResourceLimits(memory=1024 ** 3)
    assert for_type(stored, "worker", default) == default
    for bad, says in [({"memory": "lots"}, "give a size"), ({"memory": "1M"}, "minimum"),
                      ({"cpu": "0"}, "number of CPUs"), ({"pids": "2"}, "whole number"),
                      ({"disk": "1G"}, "unknown limit")]:
        with pytest.raises(InvalidInput, match=says):
            parse_changes(bad)


def _pids(platform: Platform, name: str) -> int:
    proc = platform.supervisor.apps["shop"].procs[name]
    # The pids controller's own group: the unified group every app process also joins (for
    # the bind guard) holds other processes too, and v1's cgroup.procs may repeat a pid.
    [limited] = [d for d in proc.cgroup.dirs if (d / "pids.max").exists()]
    return len(set((limited / "cgroup.procs").read_text().split()))


@needs_cgroups
def test_a_process_over_its_memory_is_restarted_and_named_with_the_figure(
        platform: Platform) -> None:
    sup = platform.supervisor
    sup.set_limits("shop", {"worker": {"memory": "64M"}})
    spec = platform.spec("shop", 1, "port", health=None, types={
        "web": WEB, "worker": "echo booting; exec /usr/bin/python3 -c "
                              "'import time; x = bytearray(300 * 1024 * 1024); time.sleep(60)'"})
    sup.deploy(spec, {"web": 1, "worker": 1}, [HOST])

    def said() -> list[str]:
        return [x for x in platform.logs.tail("shop", 200, source="roost") if "R15" in x]

    wait_for(said, timeout=30)
    assert "worker.1 went over its memory limit of 64M" in said()[0]
    wait_for(lambda: sup.ps("shop")[1]["restarts"] >= 1, timeout=30)
    assert sup.crashes[0] == ("shop", "worker.1")  # type: ignore[attr-defined]
    assert httpx.get(platform.url("/"), headers={"Host": HOST}).status_code == 200


@needs_cgroups
def test_a_fork_bomb_stops_at_the_pids_limit_and_the_web_keeps_serving(
        platform: Platform) -> None:
    sup = platform.supervisor
    sup.set_limits("shop", {"worker": {"pids": 40, "cpu": 0.2}})
    spec = platform.spec("shop", 1, "port", health=None, types={
        "web": WEB, "worker": "bomb() { bomb | bomb & }; bomb; sleep 60"})
    sup.deploy(spec, {"web": 1, "worker": 1}, [HOST])
    wait_for(lambda: _pids(platform, "worker.1") >= 30, timeout=30)
    for _ in range(20):
        assert _pids(platform, "worker.1") <= 40
        assert httpx.get(platform.url("/"), headers={"Host": HOST}, timeout=10
                         ).status_code == 200


@pytest.mark.parametrize(("env", "says"), [
    ({"ROOST_DEFAULT_MEMORY": "lots"}, "ROOST_DEFAULT_MEMORY: memory='lots'"),
    ({"ROOST_DEFAULT_PIDS": "2"}, "ROOST_DEFAULT_PIDS"),
    ({"ROOST_SANDBOX": "maybe"}, "ROOST_SANDBOX: must be on or off"),
])
def test_bad_limit_and_sandbox_settings_stop_start_up(tmp_path: Path, env: dict[str, str],
                                                      says: str) -> None:
    from roost.errors import ConfigError
    from roost.settings import load_settings

    with pytest.raises(ConfigError, match=says):
        load_settings({"ROOST_HOME": str(tmp_path), **env})
    ok = load_settings({"ROOST_HOME": str(tmp_path), "ROOST_DEFAULT_MEMORY": "1G",
                        "ROOST_SANDBOX_PATHS": "/opt/a,/opt/b"})
    assert ok.default_memory == "1G" and ok.sandbox_paths == ["/opt/a", "/opt/b"]


@needs_cgroups
def test_a_stopped_roost_leaves_no_group_behind(tmp_path: Path) -> None:
    """`roost up` makes a parent group per ROOST_HOME; its stop removes it with the empty
    groups of its apps, and keeps a group a process is still in."""
    from roost.runtime import cgroups

    groups = cgroups.shared(tmp_path)
    done = groups.create("gone", "web", ResourceLimits())
    busy = groups.create("shop", "worker", ResourceLimits())
    assert done is not None and busy is not None
    done.remove()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        Path(busy.procs_files[0]).write_text(str(sleeper.pid))
        cgroups.release(tmp_path)
        assert busy.dirs[0].is_dir(), "a group with a process in it was removed"
        assert not done.dirs[0].parent.exists(), "an app's empty group was left"
    finally:
        sleeper.kill()
        sleeper.wait()
    groups = cgroups.shared(tmp_path)  # the next start of the same home, then its stop
    cgroups.release(tmp_path)
    assert [b for b in groups.bases + groups.joined if b.exists()] == []

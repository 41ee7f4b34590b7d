"""Crash recovery ends only the processes Roost recorded, never a process that took a
recorded PID afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from roost.runtime import leftovers, spawn
from tests.conftest import wait_for
from tests.e2e.conftest import _remove_home, home_for, start_server, stop_server

__all__ = ["_remove_home"]  # the autouse fixture that deletes each test's ROOST_HOME


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two unrelated long sleeps, each leading its own process group; ended afterwards."""
    procs = [subprocess.Popen(["sleep", "600"], start_new_session=True) for _ in range(2)]
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def test_restart_after_a_crash_ends_leftovers_and_spares_reused_pids(
        tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    leftover, bystander = sleepers
    pidfile = home_for(tmp_path) / "router" / "app-pids.json"
    leftovers.record(pidfile, [leftover.pid, bystander.pid])
    # The bystander's PID was recorded for a process that has since exited; the kernel
    # gave the number to an unrelated program (other start time, other command line).
    entries = json.loads(pidfile.read_text())
    entries[1].update(start=entries[1]["start"] - 100, cmdline="python\0app.py\0")
    pidfile.write_text(json.dumps(entries))

    server = start_server(tmp_path)
    try:
        wait_for(lambda: leftover.poll() is not None, timeout=10)
        assert bystander.poll() is None, "an unrelated process with a recorded PID was killed"
    finally:
        stop_server(server)


def test_only_an_exact_match_is_killed(sleepers: list[subprocess.Popen[bytes]],
                                       tmp_path: Path) -> None:
    proc = sleepers[0]
    now = leftovers.settled(proc.pid)
    assert now is not None and now.cmdline == "sleep\x00600\x00"
    pidfile = tmp_path / "app-pids.json"
    for changed in (replace(now, start=now.start + 1), replace(now, cmdline="sleep\x00601\x00")):
        pidfile.write_text(json.dumps([asdict(changed)]))
        assert leftovers.kill(pidfile) == []
    pidfile.write_text(json.dumps([proc.pid]))  # a file from before identities were kept
    assert leftovers.kill(pidfile) == []
    assert proc.poll() is None
    pidfile.write_text(json.dumps([asdict(now)]))
    assert leftovers.kill(pidfile) == [proc.pid]
    wait_for(lambda: proc.poll() is not None, timeout=10)


def test_a_reaped_process_s_group_signal_reaches_its_members_and_no_new_owner(
        sleepers: list[subprocess.Popen[bytes]]) -> None:
    """Draining a generation whose process already exited and was reaped: its number may now
    lead another process's group (PIDs wrap at 32768 here), and that group must not get the
    signal; what the process left in its own group still does."""
    stale = subprocess.Popen(["true"], start_new_session=True)
    stale.wait()
    stale.pid = sleepers[0].pid  # the number went to an unrelated group leader
    spawn.signal_group(stale, signal.SIGKILL)
    spawn.signal_group(stale, signal.SIGTERM)
    spawn.set_priority(stale, spawn.LOW_NICENESS)
    assert sleepers[0].poll() is None, "an unrelated process that took the number was killed"
    assert os.getpriority(os.PRIO_PROCESS, sleepers[0].pid) == 0

    leader = subprocess.Popen(["bash", "-c", "sleep 600 & echo $!"], start_new_session=True,
                              stdout=subprocess.PIPE)
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    leader.wait()  # reaped; its child keeps the group (and so the number) alive
    try:
        spawn.signal_group(leader, signal.SIGKILL)
        wait_for(lambda: not leftovers.identify(child) or
                 leftovers.identify(child).cmdline == "", timeout=10)  # type: ignore[union-attr]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    leader.stdout.close()

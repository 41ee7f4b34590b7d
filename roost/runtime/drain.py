"""Stopping a generation of processes: SIGTERM, a grace period, then SIGKILL.

Old generations drain in the background while the new one serves; ``stop`` is shared with
the supervisor so that shutting Roost down cuts short their settle time.
"""

from __future__ import annotations

import signal
import socket
import threading
import time

from roost.runtime import spawn
from roost.runtime.model import Proc


class Drainer:
    """Drains processes, now or in tracked background threads."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.running: list[threading.Thread] = []  # background drains not finished yet

    def drain(self, name: str, procs: list[Proc], wait: bool, grace: float,
              settle: float = 0.0, close: socket.socket | None = None) -> None:
        """SIGTERM ``procs`` (after ``settle`` seconds), SIGKILL what outlives ``grace``,
        then close ``close`` (their generation's listening socket)."""
        for proc in procs:
            proc.state = "stopping"

        def finish() -> None:
            if settle:
                self.stop.wait(settle)
            for proc in procs:
                # Its in-flight requests still finish, but its shutdown work (interpreters
                # tearing down) waits for CPU time the serving generation does not need.
                spawn.set_priority(proc.popen, spawn.LOW_NICENESS)
                spawn.signal_group(proc.popen, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for proc in procs:
                try:
                    proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # past the grace period: kill the group
                    spawn.signal_group(proc.popen, signal.SIGKILL)
                    proc.popen.wait()
                if proc.health_socket is not None:
                    proc.health_socket.close()
                if proc.cgroup is not None:
                    proc.cgroup.remove()
                proc.state = "stopped"
            if close is not None:
                close.close()

        if wait:
            finish()
            return

        def tracked() -> None:
            try:
                finish()
            finally:
                self.running.remove(thread)

        thread = threading.Thread(target=tracked, daemon=True, name=f"drain-{name}")
        self.running.append(thread)
        thread.start()

    def join(self, name: str | None = None) -> None:
        """Wait for every background drain (of app ``name`` only, when given)."""
        for thread in list(self.running):
            if name is None or thread.name == f"drain-{name}":
                thread.join()

"""Starting one process of a formation: its address, environment, sandbox and limits.

The supervisor decides when processes start and stop; this module starts each one: the
sockets or port it serves on, its environment, the sandbox it runs in
(:mod:`roost.runtime.sandbox`) and the cgroup holding its memory, CPU and process-count
limits (:mod:`roost.runtime.cgroups`), from the app's limits for its process type.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.runtime import cgroups, sandbox, spawn
from roost.runtime import limits as limits_mod
from roost.runtime.cgroups import Cgroups
from roost.runtime.limits import ResourceLimits
from roost.runtime.logs import AppLogs
from roost.runtime.model import AppState, Proc, ReleaseSpec
from roost.runtime.users import AUTO


@dataclass
class Limits:
    """Timings and bounds of the supervisor, and what its processes run as."""

    health_timeout: float = 60.0
    grace: float = 30.0
    max_per_type: int = 20
    backoff_max: float = 60.0
    crash_window: float = 300.0
    crash_limit: int = 5
    settle: float = 1.0  # seconds old processes keep serving once traffic has moved
    user: str | None = AUTO  # ROOST_APP_USER: who apps run as when Roost is root (users.py)
    sandbox: bool = True  # ROOST_SANDBOX: run every process in its sandbox (sandbox.py)
    home: Path | None = None  # ROOST_HOME, never shown to a sandbox
    sandbox_paths: tuple[str | Path, ...] = ()  # ROOST_SANDBOX_PATHS: more read-only runtimes
    resources: ResourceLimits = field(default_factory=ResourceLimits)  # ROOST_DEFAULT_*


class Launcher:
    """Starts processes for the supervisor and one-off runs."""

    def __init__(self, limits: Limits, logs: AppLogs | None) -> None:
        self.limits = limits
        self.logs = logs
        self.app_limits: dict[str, dict[str, Any]] = {}  # app -> its settings' "limits"
        self._cgroups: Cgroups | None = None
        self._lock = threading.Lock()

    @property
    def cgroups(self) -> Cgroups:
        """The cgroup hierarchy (set up on first use)."""
        with self._lock:
            if self._cgroups is None:
                self._cgroups = cgroups.shared(self.limits.home)
            return self._cgroups

    def resources(self, app: str, ptype: str) -> ResourceLimits:
        """The limits a process of ``ptype`` runs under."""
        return limits_mod.for_type({"limits": self.app_limits.get(app) or {}}, ptype,
                                   self.limits.resources)

    def jail(self, spec: ReleaseSpec, ptype: str, name: str
             ) -> tuple[sandbox.Jail | None, Any]:
        """The sandbox and cgroup of one process of ``spec``."""
        if not self.limits.sandbox:
            return None, None
        identity = sandbox.identity("app", spec.app, self.limits.user)
        group = self.cgroups.create(spec.app, name, self.resources(spec.app, ptype))
        jail = sandbox.for_release(True, spec.directory, identity, self.limits.home,
                                   group.procs_files if group else None,
                                   extra=self.limits.sandbox_paths)
        return jail, group

    def start(self, state: AppState, spec: ReleaseSpec, ptype: str, index: int,
              listener: socket.socket | None = None, niceness: int = 0) -> Proc:
        """Start process ``ptype.index`` of ``spec`` at ``niceness``."""
        name = f"{ptype}.{index}"
        extra = {"DYNO": name, "PS": name, "ROOST_RELEASE": f"v{spec.release}",
                 "ROOST_APP": spec.app}
        sockets = []
        health_socket = None
        address = None
        if ptype == "web":
            if spec.mode == "socket":
                listener = listener or state.shared_socket
                assert listener is not None
                health_socket = spawn.bind_socket(backlog=64)
                sockets = [listener, health_socket]
                address = f"127.0.0.1:{health_socket.getsockname()[1]}"
                extra["PORT"] = str(listener.getsockname()[1])
            else:
                port = spawn.free_port()
                extra["PORT"] = str(port)
                address = f"127.0.0.1:{port}"
        else:
            extra["PORT"] = str(spawn.free_port())
        if "HOST" not in spec.env:
            extra["HOST"] = "127.0.0.1"  # servers that read it bind loopback only
        env = spawn.environment(spec.env, extra, spec.directory)
        proc_box: list[Proc] = []

        logs = self.logs
        assert logs is not None

        def on_line(line: str) -> None:
            logs.write(spec.app, f"app[{name}]", line)
            if proc_box:
                proc_box[0].output.append(line)

        jail, group = self.jail(spec, ptype, name)
        try:
            popen = spawn.spawn(spec.process_types[ptype], spec.directory, env, sockets,
                                on_line, jail, niceness)
        except BaseException:
            if group is not None:
                group.remove()
            raise
        proc = Proc(ptype=ptype, index=index, release=spec.release, popen=popen,
                    address=address, health_socket=health_socket, cgroup=group)
        proc_box.append(proc)
        logs.event(spec.app, "supervisor",
                   f"starting {name} (v{spec.release}): {spec.process_types[ptype]}")
        return proc

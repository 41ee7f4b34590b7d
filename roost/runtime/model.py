"""What the supervisor runs: release specs, processes and each app's state."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.errors import InvalidInput

SOCKET_SERVERS = ("gunicorn", "puma", "unicorn", "hypercorn")


@dataclass
class ReleaseSpec:
    """A release ready to run: its unpacked directory, environment and process types."""

    app: str
    release: int
    directory: Path
    env: dict[str, str]
    process_types: dict[str, str]
    app_json: dict[str, Any] = field(default_factory=dict)

    @property
    def health_path(self) -> str | None:
        """The HTTP path checked before a web process takes traffic (None: TCP connect)."""
        checks = self.app_json.get("healthchecks", {})
        if isinstance(checks, dict):
            for check in checks.get("web", []) or []:
                if isinstance(check, dict) and str(check.get("path", "")).startswith("/"):
                    return str(check["path"])
        health = self.app_json.get("health") or self.app_json.get("healthcheck")
        if isinstance(health, dict):
            health = health.get("path")
        return health if isinstance(health, str) and health.startswith("/") else None

    @property
    def mode(self) -> str:
        """``socket`` or ``port``: how web processes receive traffic.

        app.json's ``{"roost": {"listen": "socket" | "port"}}`` decides; otherwise servers
        known to accept inherited sockets (gunicorn, puma, unicorn, hypercorn) get socket
        mode and everything else binds ``$PORT``.
        """
        chosen = (self.app_json.get("roost") or {}).get("listen")
        if chosen in ("socket", "port"):
            return str(chosen)
        words = self.process_types.get("web", "").split()
        first = next((w for w in words if "=" not in w), "")
        return "socket" if first.rsplit("/", 1)[-1] in SOCKET_SERVERS else "port"


@dataclass
class Proc:
    """One running process of a formation (``web.1``)."""

    ptype: str
    index: int
    release: int
    popen: subprocess.Popen[bytes]
    address: str | None = None  # where the router or health check reaches it
    health_socket: socket.socket | None = None
    state: str = "starting"
    started_at: float = field(default_factory=time.time)
    restarts: int = 0
    crashes: deque[float] = field(default_factory=lambda: deque(maxlen=20))
    restart_at: float | None = None
    output: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    cgroup: Any = None  # its cgroups.ProcessGroup (memory, CPU and pids limits), if any

    @property
    def name(self) -> str:
        """``web.1``."""
        return f"{self.ptype}.{self.index}"

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None


@dataclass
class AppState:
    """One app's runtime state: its current release, formation, processes and socket."""

    name: str
    hosts: list[str]
    spec: ReleaseSpec | None = None
    formation: dict[str, int] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    shared_socket: socket.socket | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def shared_address(self) -> str | None:
        """host:port of the current generation's listening socket (socket mode)."""
        if self.shared_socket is None:
            return None
        host, port = self.shared_socket.getsockname()[:2]
        return f"{host}:{port}"


def describe_formation(formation: dict[str, int]) -> str:
    """``web=2 worker=1``, or ``no processes``."""
    return " ".join(f"{k}={v}" for k, v in sorted(formation.items())) or "no processes"


def check_formation(spec: ReleaseSpec, formation: dict[str, int],
                    max_per_type: int) -> dict[str, int]:
    """Refuse unknown process types, negative counts and counts over ``max_per_type``."""
    for ptype, count in formation.items():
        if ptype not in spec.process_types:
            known = ", ".join(sorted(spec.process_types)) or "none"
            raise InvalidInput(f"{spec.app} has no process type {ptype!r} "
                               f"(its Procfile has: {known})")
        if not isinstance(count, int) or count < 0:
            raise InvalidInput(f"{ptype}={count}: a process count is 0 or more")
        if count > max_per_type:
            raise InvalidInput(f"{ptype}={count} is over the limit of {max_per_type} "
                               "(ROOST_MAX_PROCESSES_PER_TYPE)")
    return {k: v for k, v in formation.items() if k in spec.process_types}

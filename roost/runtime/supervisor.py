"""The supervisor: each app's formation as child processes, hot restarts, crash recovery.

Deploys, restarts and scale-ups start the new web processes beside the old ones, wait for
each to pass a health check on its own address, then move traffic and drain the old
generation (SIGTERM, a grace period, SIGKILL). A generation that never becomes healthy
takes no traffic: it is stopped and the deploy fails with its last output lines.

Socket mode: the supervisor binds each generation's listening socket before its processes
start and keeps it until the last of them has exited; every web process of the generation
inherits it as fd 3 (systemd protocol) plus a private socket as fd 4 that only its health
check uses. Crash restarts and scale-ups join the current generation's socket, so its
accept queue holds requests across them and the router is untouched. A deploy or restart
binds a new socket: a process accepts from any socket it holds as soon as it has booted,
so a release sharing the old queue would answer users before (or without ever) passing
its check; on its own socket it takes traffic only once the router is switched to it.
Port mode: each web process binds a fresh ``$PORT``. In both modes the switch reaches the
router through its upstream resolver, without a Caddy reload, and the old generation keeps
serving ``settle`` seconds longer, past the router's refresh, before it gets SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from roost.errors import InvalidInput, NotFound, RuntimeFailure
from roost.runtime import spawn, users
from roost.runtime.drain import Drainer
from roost.runtime.health import wait_healthy
from roost.runtime.launch import Launcher, Limits
from roost.runtime.limits import format_memory
from roost.runtime.logs import AppLogs
from roost.runtime.model import (
    AppState,
    Proc,
    ReleaseSpec,
    check_formation,
    describe_formation,
)
from roost.runtime.router import Router

log = logging.getLogger("roost.supervisor")
CrashHook = Callable[[str, str, list[str]], None]


class Supervisor:
    """Runs and watches every app's processes; drives the router."""

    def __init__(self, router: Router, logs: AppLogs, limits: Limits | None = None,
                 on_crash: CrashHook | None = None) -> None:
        self.router = router
        self.logs = logs
        self.limits = limits or Limits()
        self.limits.user = users.resolve(self.limits.user)  # refuses a missing named user
        self.launcher = Launcher(self.limits, logs)
        self.on_crash = on_crash
        self.apps: dict[str, AppState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drainer = Drainer(self._stop)
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="supervisor")

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Start watching processes."""
        self._watcher.start()

    def stop(self) -> None:
        """Drain every app's processes and stop watching."""
        self._stop.set()  # background drains skip what is left of their settle time
        for state in list(self.apps.values()):
            with state.lock:
                self._drain(state, list(state.procs.values()), wait=True)
                state.procs.clear()
        self._drainer.join()  # old generations and scaled-down processes

    def state(self, app: str, hosts: list[str] | None = None) -> AppState:
        """The app's runtime state (created on first use)."""
        with self._lock:
            found = self.apps.get(app)
            if found is None:
                found = self.apps[app] = AppState(name=app, hosts=hosts or [])
            elif hosts is not None:
                found.hosts = hosts
            return found

    # -- deploys -----------------------------------------------------------------------
    def deploy(self, spec: ReleaseSpec, formation: dict[str, int], hosts: list[str]) -> None:
        """Run ``spec`` with ``formation``, hot: the old generation serves until the new one
        is healthy. Raises RuntimeFailure (old generation untouched) when it is not."""
        state = self.state(spec.app, hosts)
        formation = self.check_formation(spec, formation)
        with state.lock:
            listener = spawn.bind_socket() if spec.mode == "socket" else None
            new_web = [self.launcher.start(state, spec, "web", i, listener, self._booting())
                       for i in range(1, formation.get("web", 0) + 1)]
            try:
                self._await_healthy(state, spec, new_web)
            finally:
                if listener is not None and any(p.state != "up" for p in new_web):
                    listener.close()
            old = list(state.procs.values())
            old_listener, state.shared_socket = state.shared_socket, listener
            state.spec, state.formation = spec, dict(formation)
            state.procs = {p.name: p for p in new_web}
            for ptype, count in formation.items():
                if ptype != "web":
                    for i in range(1, count + 1):
                        proc = self.launcher.start(state, spec, ptype, i)
                        proc.state = "up"
                        state.procs[proc.name] = proc
            self._route(state)
            if any(p.ptype == "web" for p in old):
                # The router picks up a new upstream list within its refresh interval; wait
                # it out so that traffic has moved to this release when deploy returns.
                time.sleep(self.router.refresh_seconds)
            self.logs.event(spec.app, "deploy", f"v{spec.release} is live in {spec.mode} mode "
                            f"({describe_formation(formation)})")
            self._drain(state, old, wait=False, settle=self.limits.settle, close=old_listener)

    def wait_drained(self, app: str) -> None:
        """Wait until the old generations of ``app`` have stopped (e.g. before a credential
        they used is retired)."""
        self._drainer.join(app)

    def check_formation(self, spec: ReleaseSpec, formation: dict[str, int]) -> dict[str, int]:
        """Refuse unknown process types, negative counts and counts over the maximum."""
        return check_formation(spec, formation, self.limits.max_per_type)

    def scale(self, app: str, changes: dict[str, int]) -> dict[str, int]:
        """Change process counts; new web processes take traffic once healthy."""
        state = self._running(app)
        with state.lock:
            spec = state.spec
            assert spec is not None
            formation = self.check_formation(spec, {**state.formation, **changes})
            for ptype, count in changes.items():
                current = sorted((p for p in state.procs.values() if p.ptype == ptype),
                                 key=lambda p: p.index)
                if count > len(current):
                    used = {p.index for p in current}
                    indexes = [i for i in range(1, count + len(current) + 1)
                               if i not in used][: count - len(current)]
                    added = [self.launcher.start(state, spec, ptype, i, None,
                                                 self._booting() if ptype == "web" else 0)
                             for i in indexes]
                    if ptype == "web":
                        self._await_healthy(state, spec, added)
                    for proc in added:
                        proc.state = "up"
                        state.procs[proc.name] = proc
                else:
                    removed = current[count:]
                    for proc in removed:
                        state.procs.pop(proc.name, None)
                    self._route(state)
                    self._drain(state, removed, wait=False, settle=self._settle(spec))
            state.formation = formation
            self._route(state)
            self.logs.event(app, "scale", describe_formation(formation))
            return dict(formation)

    def restart(self, app: str, ptype: str | None = None) -> None:
        """Restart every process (or one type): hot for web, stop-then-start for others."""
        state = self._running(app)
        with state.lock:
            spec = state.spec
            assert spec is not None
            if ptype is not None and ptype not in spec.process_types:
                raise InvalidInput(f"{app} has no process type {ptype!r}")
        if ptype in (None, "web") and state.formation.get("web"):
            self.deploy(spec, state.formation, state.hosts)
            self.logs.event(app, "restart", "web processes restarted")
            if ptype == "web":
                return
        with state.lock:
            for proc in [p for p in state.procs.values()
                         if p.ptype != "web" and (ptype is None or p.ptype == ptype)]:
                self._drain(state, [proc], wait=True)
                fresh = self.launcher.start(state, spec, proc.ptype, proc.index)
                fresh.state = "up"
                state.procs[fresh.name] = fresh
            self.logs.event(app, "restart", f"{ptype or 'all'} processes restarted")

    def remove(self, app: str) -> None:
        """Stop an app's processes and forget it."""
        state = self.apps.pop(app, None)
        if state is None:
            return
        with state.lock:
            self.router.remove_route(app)
            self._drain(state, list(state.procs.values()), wait=True)
            if state.shared_socket is not None:
                state.shared_socket.close()

    def set_hosts(self, app: str, hosts: list[str]) -> None:
        """Change the host names an app answers to."""
        state = self.state(app, hosts)
        with state.lock:
            self._route(state)

    def ps(self, app: str) -> list[dict[str, object]]:
        """The app's processes: type, number, state, release, uptime, restarts."""
        state = self.apps.get(app)
        if state is None:
            return []
        now = time.time()
        return [{"name": p.name, "type": p.ptype, "number": p.index, "state": p.state,
                 "release": p.release, "uptime_s": round(now - p.started_at, 1),
                 "restarts": p.restarts, "pid": p.popen.pid}
                for p in sorted(state.procs.values(), key=lambda p: (p.ptype, p.index))]

    # -- internals ---------------------------------------------------------------------
    def _running(self, app: str) -> AppState:
        state = self.apps.get(app)
        if state is None or state.spec is None:
            raise NotFound(f"{app} has no running release: deploy it first (`roost deploy`)")
        return state

    def _settle(self, spec: ReleaseSpec) -> float:
        # Scaling down in port mode: a process that gets SIGTERM closes its own listening
        # socket, resetting connections the router sent before its upstream list changed and
        # that still wait in that socket's queue; so it keeps serving a moment longer. In
        # socket mode the queue is shared with the processes that stay.
        return self.limits.settle if spec.mode == "port" else 0.0

    @staticmethod
    def _booting() -> int:
        """The niceness a booting web process starts at: a booting generation runs at the
        lowest priority so that the one serving keeps the CPU, and gets normal priority
        back once healthy. Roost lowers it only when it may raise it again: a release must
        not serve for good at niceness 19."""
        return spawn.LOW_NICENESS if spawn.may_raise_priority() else 0

    def _await_healthy(self, state: AppState, spec: ReleaseSpec, procs: list[Proc]) -> None:
        host = state.hosts[0] if state.hosts else "localhost"
        lowered = spawn.may_raise_priority()  # started at the lowest niceness (_booting)
        for proc in procs:
            if lowered:  # the session's weight too (autogroup), shared by its processes
                spawn.set_priority(proc.popen, spawn.LOW_NICENESS)
        for proc in procs:
            assert proc.address is not None
            why = wait_healthy(proc.address, spec.health_path, host,
                               self.limits.health_timeout, proc.alive)
            if why is None:
                proc.state = "up"
                continue
            self._drain(state, procs, wait=True, grace=2.0)
            tail = "\n".join(list(proc.output)[-15:])
            self.logs.event(spec.app, "deploy", f"v{spec.release} failed: {proc.name} {why}")
            raise RuntimeFailure(
                f"v{spec.release} of {spec.app} did not become healthy: {proc.name} {why}; "
                f"the previous release keeps serving. Last output:\n{tail or '(none)'}")
        for proc in procs:
            if lowered:
                spawn.set_priority(proc.popen, 0)

    def _route(self, state: AppState) -> None:
        if state.spec is None:
            return
        if state.spec.mode == "socket":
            up = [state.shared_address] if any(
                p.ptype == "web" and p.state == "up" for p in state.procs.values()) else []
        else:
            up = [p.address for p in state.procs.values()
                  if p.ptype == "web" and p.state == "up" and p.address]
        live: list[str] = [u for u in up if u]
        if not live and any(p.ptype == "web" and p.state in ("restarting", "starting")
                          for p in state.procs.values()):
            # A crashed process coming back keeps its route (socket mode: its queue holds
            # the requests): going to no upstreams and back would reload Caddy twice, which
            # drops other apps' connections; one app's crash loop must not touch its neighbours.
            return
        self.router.set_route(state.name, state.hosts, live)

    def _drain(self, state: AppState, procs: list[Proc], wait: bool,
               grace: float | None = None, settle: float = 0.0,
               close: socket.socket | None = None) -> None:
        grace = self.limits.grace if grace is None else grace
        self._drainer.drain(state.name, procs, wait, grace, settle, close)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for state in list(self.apps.values()):
                if not state.lock.acquire(blocking=False):
                    continue
                try:
                    self._check_app(state)
                except Exception:  # the watcher must outlive any one app
                    log.exception("supervising %s failed", state.name)
                finally:
                    state.lock.release()

    def _check_app(self, state: AppState) -> None:
        now = time.monotonic()
        changed = False
        for proc in list(state.procs.values()):
            if proc.state in ("up", "starting") and proc.cgroup is not None \
                    and proc.cgroup.new_oom_kills():
                self._over_memory(state, proc)
            if proc.state in ("up", "starting") and not proc.alive():
                code = proc.popen.returncode
                proc.crashes.append(now)
                recent = [t for t in proc.crashes if now - t < self.limits.crash_window]
                last = list(proc.output)[-10:]
                if len(recent) >= self.limits.crash_limit:
                    proc.state = "crashed"
                    self.logs.event(state.name, "supervisor",
                                    f"{proc.name} crashed {len(recent)} times in "
                                    f"{self.limits.crash_window:.0f}s: marked crashed")
                    if self.on_crash:
                        self.on_crash(state.name, proc.name, last)
                else:
                    delay = min(2 ** (len(recent) - 1), self.limits.backoff_max)
                    proc.state = "restarting"
                    proc.restart_at = now + delay
                    self.logs.event(state.name, "supervisor",
                                    f"{proc.name} exited with {code}; restarting in {delay:.0f}s")
                changed = True
            elif proc.state == "restarting" and proc.restart_at and now >= proc.restart_at:
                self._respawn(state, proc)
                changed = True
        if changed:
            self._route(state)

    def _over_memory(self, state: AppState, proc: Proc) -> None:
        """The kernel killed (part of) a process over its memory limit: say so with the
        figure (Heroku's R15), tell its maintainers and restart the whole process."""
        limit = format_memory(proc.cgroup.limits.memory)
        message = (f"R15 {proc.name} went over its memory limit of {limit} and was stopped; "
                   f"restarting it (raise it with `roost limits set {state.name} {proc.ptype} "
                   "memory=…`)")
        self.logs.event(state.name, "memory", message)
        spawn.signal_group(proc.popen, signal.SIGKILL)  # the crash path restarts it
        if self.on_crash:
            self.on_crash(state.name, proc.name, [message, *list(proc.output)[-9:]])

    def set_limits(self, app: str, stored: dict[str, Any] | None) -> None:
        """Use an app's limits (its settings' ``limits``) for the processes it starts next."""
        self.launcher.app_limits[app] = dict(stored or {})

    def _respawn(self, state: AppState, old: Proc) -> None:
        spec = state.spec
        assert spec is not None
        if old.health_socket is not None:
            old.health_socket.close()
        if old.cgroup is not None:
            old.cgroup.remove()
        fresh = self.launcher.start(state, spec, old.ptype, old.index)
        fresh.restarts, fresh.crashes = old.restarts + 1, old.crashes
        state.procs[fresh.name] = fresh
        if fresh.ptype != "web":
            fresh.state = "up"
            return
        assert fresh.address is not None

        def check() -> None:
            why = wait_healthy(fresh.address or "", spec.health_path,
                               state.hosts[0] if state.hosts else "localhost",
                               self.limits.health_timeout, fresh.alive)
            with state.lock:
                if why is None and fresh.state == "starting":
                    fresh.state = "up"
                    self._route(state)

        threading.Thread(target=check, daemon=True, name=f"health-{fresh.name}").start()

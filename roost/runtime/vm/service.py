"""The ``vm`` runtime: each app on a VM of its own choosing, run by that VM's systemd.

A deploy (:meth:`VmRuntime.activate`) reads as its steps: make sure the app's user and
directories exist, send and unpack the slug, write the release's env file and start
scripts, run the new release as a *candidate* on a port only the VM sees and wait until it
answers (else the deploy fails and the running release is untouched), point the live units
at the new release and restart them (the web socket stays open in systemd, so no
connection is refused), check the live port, route the app's host names to the VM. A
rollback is a deploy of an older release. Routing goes through the router's upstream
resolver: the app's upstream is ``VM_ADDRESS:PORT``, so nothing reloads Caddy.
"""

from __future__ import annotations

import json
import logging
import shlex
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from roost.errors import InvalidInput, NotFound, RuntimeFailure
from roost.objectstore import ObjectStore
from roost.runtime.logs import AppLogs
from roost.runtime.model import ReleaseSpec
from roost.runtime.vm import oneoff, remote, units
from roost.runtime.vm.logpump import LogPump
from roost.runtime.vm.placement import Placement, address_of, listen_of, upstream_of
from roost.runtime.vm.processes import list_processes, restart_units, set_workers
from roost.runtime.vm.ssh import Connection
from roost.runtime.vm.units import Layout
from roost.store.models import App, Release

log = logging.getLogger("roost.runtime.vm")
Emit = Callable[[dict[str, Any]], None]


class Routes(Protocol):
    """The part of the router the vm runtime uses."""

    def set_route(self, app: str, hosts: list[str], upstreams: list[str]) -> None:
        """Route ``hosts`` to ``upstreams``."""

    def remove_route(self, app: str) -> None:
        """Forget an app's route."""


class VmRuntime:
    """Runs apps placed on VMs (``roost apps create APP --runtime vm --host NAME``)."""

    def __init__(self, router: Routes, logs: AppLogs, store: ObjectStore,
                 place: Callable[[str], Placement], names: Callable[[App], list[str]],
                 health_timeout: float = 60.0, grace: float = 30.0) -> None:
        self.router = router
        self.logs = logs
        self.store = store
        self.place = place  # app -> Placement (read from the store by orchestration)
        self.names = names  # app -> its host names (the platform runtime's rule)
        self.health_timeout = health_timeout
        self.grace = grace
        self.pumps: dict[str, LogPump] = {}
        self.live: dict[str, int] = {}  # app -> release number running on its VM
        self.health: dict[str, str | None] = {}
        self.placed: dict[str, Placement] = {}  # the last placement seen, for remove()
        # The release's asset vars and files (its manifest), for its directory on the VM.
        self.prepare: Callable[[Release, Path], tuple[dict[str, str], dict[str, bytes]]] \
            | None = None
        self._lock = threading.Lock()

    # -- connections -------------------------------------------------------------------
    def connect(self, app: str) -> tuple[Connection, Placement]:
        """A fresh SSH connection to the app's VM, and its placement."""
        try:
            placement = self.place(app)
        except NotFound:
            if app not in self.placed:  # an app destroyed a moment ago: its last place
                raise
            placement = self.placed[app]
        self.placed[app] = placement
        return Connection(placement.host), placement

    def knows(self, app: str) -> bool:
        """Whether this runtime placed ``app`` on a VM since it started."""
        return app in self.placed or app in self.live

    def _pump(self, app: str) -> None:
        with self._lock:
            if app in self.pumps:
                return
            pump = LogPump(Layout(app), self.logs, lambda: self.connect(app)[0])
            self.pumps[app] = pump
        pump.start()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Nothing to start: each VM's systemd runs its apps."""

    def stop(self) -> None:
        """Stop copying journals (the apps keep running on their VMs)."""
        with self._lock:
            pumps, self.pumps = list(self.pumps.values()), {}
        for pump in pumps:
            pump.stop()

    def restore(self, ctx: Any, env_of: Callable[[Release], dict[str, str]],
                only: Callable[[str], bool] | None = None) -> None:
        """Route every VM app to its VM again and follow its journal (they kept running)."""
        with ctx.sessions.begin() as session:
            rows = [(a.name, self.names(a), a.current_release)
                    for a in session.scalars(select(App))
                    if a.current_release is not None and (only is None or only(a.name))]
        for name, names, number in rows:
            try:
                placement = self.place(name)
                self.router.set_route(name, names, [upstream_of(placement)])
                self.live[name] = number
                self._pump(name)
            except Exception as exc:  # one VM away must not stop the rest
                log.error("could not restore %s: %s", name, exc)

    # -- deploys -----------------------------------------------------------------------
    def spec(self, app: str, release: Release, env: dict[str, str]) -> ReleaseSpec:
        """The release as a spec (its directory is the path on the VM)."""
        directory = Path(Layout(app).release(release.number))
        found, _ = self.prepare(release, directory) if self.prepare else ({}, {})
        return ReleaseSpec(app=app, release=release.number, directory=directory,
                           env={**env, **found}, process_types=dict(release.process_types),
                           app_json={})

    def release_dir(self, app: str, number: int, slug_key: str) -> Path:
        """Where release ``number`` is unpacked on the app's VM."""
        return Path(Layout(app).release(number))

    def activate(self, ctx: Any, app_name: str, release: Release, env: dict[str, str],
                 emit: Emit) -> None:
        """Move the app to ``release`` on its VM; RuntimeFailure (old release untouched)
        when the new one does not answer."""
        if not release.slug_key:
            raise RuntimeFailure(f"v{release.number} of {app_name} has no slug to run")
        with ctx.sessions.begin() as session:
            app = session.scalar(select(App).where(App.name == app_name))
            assert app is not None
            formation, names = dict(app.formation or {}), self.names(app)
            previous = app.current_release
        types = dict(release.process_types)
        for ptype in types:
            units.check_ptype(ptype)
        if not formation:
            formation = {"web": 1} if "web" in types else {}
        formation = {k: v for k, v in formation.items() if k in types}
        layout, n = Layout(app_name), release.number
        conn, placement = self.connect(app_name)
        self._pump(app_name)  # the journal from now on: the candidate's lines too
        try:
            emit({"type": "step", "step": "release",
                  "message": f"sending v{n} to {placement.host.name}"})
            remote.ensure_app(conn, layout)
            if not remote.has_release(conn, layout, n):
                self._send_slug(conn, layout, n, release.slug_key)
            if self.prepare is not None:
                found, files = self.prepare(release, Path(layout.release(n)))
                env = {**env, **found}
                remote.write_app_files(conn, layout, n, files)
            remote.write_release_files(conn, layout, n, env, types)
            spec = ReleaseSpec(app=app_name, release=n, directory=Path(layout.release(n)),
                               env=env, process_types=types,
                               app_json=_json(remote.read_app_json(conn, layout, n)))
            if formation.get("web"):
                emit({"type": "step", "step": "release",
                      "message": f"checking v{n} on {placement.host.name} before it goes live"})
                self._check_candidate(conn, layout, placement, spec, names)
            self._go_live(conn, layout, placement, spec, formation, names)
            remote.prune(conn, layout, {k for k in (n, previous) if k is not None})
        finally:
            conn.close()
        _record_formation(ctx, app_name, formation)
        emit({"type": "step", "step": "release",
              "message": f"live on {placement.host.name} at {upstream_of(placement)}"})

    def _send_slug(self, conn: Connection, layout: Layout, number: int, key: str) -> None:
        with tempfile.TemporaryDirectory(prefix="roost-vm-") as tmp:
            path = Path(tmp) / "slug.tar.gz"
            self.store.download(key, path)
            with path.open("rb") as fh:
                remote.unpack_release(conn, layout, number, fh)

    def _check_candidate(self, conn: Connection, layout: Layout, placement: Placement,
                         spec: ReleaseSpec, names: list[str]) -> None:
        check = layout.unit("check")
        stop = (f"systemctl stop {check}.socket {check}.service >/dev/null 2>&1; "
                f"systemctl reset-failed {check}.socket {check}.service >/dev/null 2>&1; true")
        conn.run(stop, check=False)
        conn.run(" ".join(shlex.quote(a) for a in units.check_command(
            layout, spec.release, placement.check_port)))
        try:
            why = self._wait_answer(conn, "127.0.0.1", placement.check_port, spec,
                                    names[0] if names else layout.app,
                                    lambda: remote.unit_state(conn, f"{check}.service"))
            if why:
                tail = remote.journal_tail(conn, f"{check}.service")
                raise RuntimeFailure(f"v{spec.release} did not start on "
                                     f"{placement.host.name}: {why}; the running release "
                                     f"stays live. Its last lines:\n{tail}")
        finally:
            conn.run(stop, check=False)

    def _wait_answer(self, conn: Connection, address: str, port: int, spec: ReleaseSpec,
                     host: str, state: Callable[[], str] | None) -> str:
        path = spec.health_path or "/"
        worst = 400 if spec.health_path else 500
        deadline, why = time.monotonic() + self.health_timeout, "no answer"
        while time.monotonic() < deadline:
            status = conn.http_status(port, path, host, address=address)
            if status is not None and status < worst:
                return ""
            why = f"GET {path} answered {status}" if status is not None else "no answer"
            if state is not None and state() == "failed":  # socket-activated: inactive
                return "the process exited before it answered"  # until the first request
            time.sleep(0.1)
        return f"not healthy within {self.health_timeout:.0f}s ({why})"

    def _go_live(self, conn: Connection, layout: Layout, placement: Placement,
                 spec: ReleaseSpec, formation: dict[str, int], names: list[str]) -> None:
        web, files = layout.unit("web"), {}
        if "web" in spec.process_types:
            files[f"{web}.socket"] = units.socket_unit(layout, listen_of(placement))
            files[f"{web}.service"] = units.web_service(layout, placement.port, self.grace)
        for ptype in spec.process_types:
            if ptype != "web":
                files[f"{layout.unit(ptype)}@.service"] = units.worker_service(
                    layout, ptype, self.grace)
        remote.write_units(conn, files)
        before = remote.live_release(conn, layout)
        remote.switch(conn, layout, spec.release)
        if formation.get("web"):
            # The socket stays open in systemd while the service restarts on the new links.
            conn.run(f"systemctl enable --quiet --now {web}.socket {web}.service && "
                     f"systemctl restart {web}.service")
            why = self._wait_answer(conn, address_of(placement), placement.port, spec,
                                    names[0] if names else layout.app, None)
            if why:
                if before is not None:  # back to the release that was live
                    remote.switch(conn, layout, before)
                    conn.run(f"systemctl restart {web}.service", check=False)
                raise RuntimeFailure(f"v{spec.release} went live on {placement.host.name} "
                                     f"but its port {placement.port} did not answer: {why}")
            self.router.set_route(layout.app, names, [upstream_of(placement)])
        elif "web" in spec.process_types:
            conn.run(f"systemctl disable --quiet --now {web}.service {web}.socket", check=False)
            self.router.set_route(layout.app, names, [])
        set_workers(conn, layout, {k: v for k, v in formation.items() if k != "web"},
                    restart=True)
        self.live[layout.app] = spec.release
        self.health[layout.app] = spec.health_path

    # -- the rest of AppRuntime --------------------------------------------------------
    def scale(self, ctx: Any, app_name: str, changes: dict[str, int]) -> dict[str, int]:
        """Change the formation on the VM (web is 0 or 1: one service holds the socket)."""
        if not changes:
            raise InvalidInput("give at least one TYPE=N, e.g. worker=2")
        if changes.get("web", 0) > 1:
            raise InvalidInput("a VM app runs one web process (systemd holds its socket): "
                               "use web=1, or a bigger VM")
        with ctx.sessions.begin() as session:
            app = session.scalar(select(App).where(App.name == app_name))
            assert app is not None
            formation, names = {**(app.formation or {}), **changes}, self.names(app)
        conn, placement = self.connect(app_name)
        try:
            layout, web = Layout(app_name), Layout(app_name).unit("web")
            if "web" in changes:
                verb = "start" if changes["web"] else "stop"
                remote.systemctl(conn, verb, f"{web}.socket", f"{web}.service")
                self.router.set_route(app_name, names,
                                      [upstream_of(placement)] if changes["web"] else [])
            set_workers(conn, layout, {k: v for k, v in formation.items() if k != "web"},
                        restart=False)
        finally:
            conn.close()
        _record_formation(ctx, app_name, formation)
        return formation

    def ps(self, app: str) -> list[dict[str, object]]:
        """The app's processes on its VM (as systemd sees them)."""
        conn, placement = self.connect(app)
        try:
            return list_processes(conn, Layout(app), placement.host.name)
        finally:
            conn.close()

    def restart(self, app: str, ptype: str | None = None) -> None:
        """Restart the app's units (web hot: its socket stays open in systemd)."""
        if app not in self.live:
            raise NotFound(f"{app} has no running release: deploy it first (`roost deploy`)")
        conn, _ = self.connect(app)
        try:
            restart_units(conn, Layout(app), ptype)
        finally:
            conn.close()

    def run(self, spec: ReleaseSpec, command: str) -> Iterator[str | int]:
        """A one-off process on the VM, as the app's user with the release's env."""
        conn, _ = self.connect(spec.app)
        return oneoff.run(conn, Layout(spec.app), spec.release, command)

    def set_limits(self, app: str, stored: dict[str, Any] | None) -> None:
        """Per-type limits are the VM's own business (its size); nothing to apply."""

    def set_hosts(self, app: str, hosts: list[str]) -> None:
        """Route these host names to the app's VM."""
        if app in self.live:
            self.router.set_route(app, hosts, [upstream_of(self.place(app))])

    def remove(self, app: str) -> None:
        """Stop and delete the app's units and files on its VM, and its route."""
        with self._lock:
            pump = self.pumps.pop(app, None)
        if pump is not None:
            pump.stop()
        self.router.remove_route(app)
        self.live.pop(app, None)
        try:
            conn, _ = self.connect(app)
        except (NotFound, RuntimeFailure) as exc:
            log.warning("could not clean %s from its VM: %s", app, exc)
            return
        try:
            remote.remove_app(conn, Layout(app))
        finally:
            conn.close()
            self.placed.pop(app, None)

    def is_running(self, app: str) -> bool:
        """Whether a release of the app went live on its VM."""
        return app in self.live

    def health_path(self, app: str) -> str | None:
        """The running release's health-check path."""
        return self.health.get(app)

    def wait_drained(self, app: str) -> None:
        """Nothing to wait for: ``systemctl restart`` returns once the old process ended."""


def _json(text: str) -> dict[str, Any]:
    try:
        loaded = json.loads(text) if text else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _record_formation(ctx: Any, app_name: str, formation: dict[str, int]) -> None:
    """Store the app's formation as it now runs on its VM."""
    with ctx.sessions.begin() as session:
        app = session.scalar(select(App).where(App.name == app_name))
        assert app is not None
        app.formation = formation

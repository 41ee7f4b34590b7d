"""The runtime inside `roost up`: router + supervisor + logs, and release activation.

``Runtime.activate`` is the deploy pipeline's last step: it fetches the release's slug,
unpacks it into ``$ROOST_HOME/apps/APP/vN`` (kept for reuse and rollback) and hands it to
the supervisor for a hot swap. ``restore`` brings every app back to its recorded
formation when `roost up` starts again.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from roost.errors import InvalidInput, RuntimeFailure
from roost.objectstore import ObjectStore
from roost.runtime import cgroups, layout, leftovers, oneoff, sandbox, spawn, users
from roost.runtime.interface import TaskBuilds
from roost.runtime.logs import AppLogs
from roost.runtime.model import ReleaseSpec, describe_formation
from roost.runtime.router import Router
from roost.runtime.supervisor import CrashHook, Limits, Supervisor
from roost.store.models import App, Release

log = logging.getLogger("roost.runtime")
KEEP_RELEASE_DIRS = 3
Unpack = Callable[[ObjectStore, str, Path, Path], Path]


class Runtime:
    """Runs every app's current release behind the router."""

    def __init__(self, home: Path, router_listen: str, base_domain: str,
                 store: ObjectStore, limits: Limits | None = None,
                 on_crash: CrashHook | None = None, router_user: str | None = None,
                 unpack: Unpack | None = None) -> None:
        self.home = home
        # Fetches and unpacks a slug (build.service.unpack_slug, handed in by the composition
        # root: the build runs its buildpacks in this package's sandbox, so it sits above).
        self.unpack = unpack
        self.base_domain = base_domain
        self.store = store
        self.router_port = router_listen.rpartition(":")[2]
        self.router_user = router_user  # the setting: "auto", a name, or None (own user)
        self.router = Router(router_listen, home / "router", run_dir=home / "run")
        self.logs = AppLogs(home / "logs")
        self.builds: TaskBuilds | None = None  # builds run on this host, in the build's sandbox
        self.limits = limits or Limits()
        self.limits.home = home
        self.supervisor = Supervisor(self.router, self.logs, self.limits, on_crash)
        self._pidfile = home / "router" / "app-pids.json"
        # Called with (release, its directory, its env) before it runs: adds asset files/vars.
        self.prepare: Callable[[Release, Path, dict[str, str]], None] | None = None

    def start(self) -> None:
        """Start the router and the supervisor (stopping leftovers of a crashed run)."""
        if self.limits.sandbox and sandbox.bwrap_path() is None:
            log.error("%s; apps will not start until then", sandbox.MISSING)
        self._kill_leftovers()
        self.router.user = users.resolve_router(self.router_user)
        gid = users.ids(self.router.user)[1] if self.router.user else None
        layout.secure_home(self.home, gid)
        objects = self.store.local_root()
        if objects is not None:
            layout.share_objects(objects, gid)  # the router serves the assets from there
        self.router.start()
        self.supervisor.start()
        self._record_pids()

    def stop(self) -> None:
        """Drain every app, then stop the router."""
        self.supervisor.stop()
        self.router.stop()
        self._pidfile.unlink(missing_ok=True)
        cgroups.release(self.home)

    # -- addresses ---------------------------------------------------------------------
    def hosts(self, app: App) -> list[str]:
        """The host names an app answers to."""
        return [f"{app.name}.{self.base_domain}", *(app.settings or {}).get("domains", [])]

    def web_url(self, app_name: str) -> str:
        """The app's URL through the router."""
        return f"http://{app_name}.{self.base_domain}:{self.router_port}"

    # -- activation --------------------------------------------------------------------
    def release_dir(self, app: str, number: int, slug_key: str) -> Path:
        """The unpacked slug of a release, fetched and unpacked on first use."""
        target = self.home / "apps" / app / f"v{number}"
        if (target / ".roost-unpacked").exists():
            return target
        tmp = target.with_name(f".v{number}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        if self.unpack is None:
            raise RuntimeFailure("this runtime was built without a slug unpacker")
        self.unpack(self.store, slug_key, tmp, self.home / "apps" / ".work")
        sandbox.write_private(tmp, ".roost-unpacked", slug_key.encode())
        sandbox.seal_release(tmp, sandbox.app_group(app, self.limits.user))
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        return target

    def spec(self, app: str, release: Release, env: dict[str, str]) -> ReleaseSpec:
        """A runnable spec for a release (its slug unpacked)."""
        if not release.slug_key:
            raise RuntimeFailure(f"v{release.number} of {app} has no slug to run")
        directory = self.release_dir(app, release.number, release.slug_key)
        app_json: dict[str, Any] = {}
        try:
            loaded = json.loads((directory / "app.json").read_text())
            app_json = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            pass
        env = dict(env)
        if self.prepare is not None:
            self.prepare(release, directory, env)
        return ReleaseSpec(app=app, release=release.number, directory=directory, env=env,
                           process_types=dict(release.process_types), app_json=app_json)

    def activate(self, ctx: Any, app_name: str, release: Release, env: dict[str, str],
                 emit: Callable[[dict[str, Any]], None]) -> None:
        """Hot-swap the app to ``release``; raise RuntimeFailure when it does not start."""
        with ctx.sessions.begin() as session:
            app = session.scalar(select(App).where(App.name == app_name))
            assert app is not None
            formation = dict(app.formation or {})
            hosts = self.hosts(app)
            self.supervisor.set_limits(app_name, (app.settings or {}).get("limits"))
        spec = self.spec(app_name, release, env)
        if not formation:
            formation = {"web": 1} if "web" in spec.process_types else {}
        formation = {k: v for k, v in formation.items() if k in spec.process_types}
        emit({"type": "step", "step": "release",
              "message": f"starting {describe_formation(formation)} in {spec.mode} mode"})
        self.supervisor.deploy(spec, formation, hosts)
        with ctx.sessions.begin() as session:
            app = session.scalar(select(App).where(App.name == app_name))
            assert app is not None
            app.formation = formation
        self._record_pids()
        self._prune(app_name, keep=release.number)
        emit({"type": "step", "step": "release", "message": f"live at {self.web_url(app_name)}"})

    def restore(self, ctx: Any, env_of: Callable[[Release], dict[str, str]],
                only: Callable[[str], bool] | None = None) -> None:
        """Run every app's current release again (after `roost up` restarts); with ``only``,
        just the apps it accepts (the others run elsewhere)."""
        with ctx.sessions.begin() as session:
            rows = [(a.name, a.formation, self.hosts(a), r, env_of(r)) for a, r in session.execute(
                select(App, Release).join(Release, (Release.app_id == App.id)
                                          & (Release.number == App.current_release)))
                    if only is None or only(a.name)]
            for app in session.scalars(select(App)):
                self.supervisor.set_limits(app.name, (app.settings or {}).get("limits"))
        for name, formation, hosts, release, env in rows:
            try:
                spec = self.spec(name, release, env)
                self.supervisor.deploy(spec, dict(formation or {}), hosts)
            except Exception as exc:  # one broken app must not stop the rest
                log.error("could not restore %s v%s: %s", name, release.number, exc)
                self.logs.event(name, "supervisor", f"could not restart v{release.number}: {exc}")
        self._record_pids()

    def scale(self, ctx: Any, app_name: str, changes: dict[str, int]) -> dict[str, int]:
        """Change the formation and record it."""
        if not changes:
            raise InvalidInput("give at least one TYPE=N, e.g. web=2")
        formation = self.supervisor.scale(app_name, changes)
        with ctx.sessions.begin() as session:
            app = session.scalar(select(App).where(App.name == app_name))
            assert app is not None
            app.formation = formation
        self._record_pids()
        return formation

    # -- the rest of runtime/interface.py's AppRuntime --------------------------------------
    def ps(self, app: str) -> list[dict[str, object]]:
        """The app's processes."""
        return self.supervisor.ps(app)

    def restart(self, app: str, ptype: str | None = None) -> None:
        """Restart the app's processes (web hot)."""
        self.supervisor.restart(app, ptype)

    def run(self, spec: ReleaseSpec, command: str) -> Iterator[str | int]:
        """A one-off process in the app's sandbox: output lines, then the exit code."""
        return oneoff.run(spec, command, self.supervisor.launcher)

    def set_limits(self, app: str, stored: dict[str, Any] | None) -> None:
        """Apply the app's stored limits to what starts next."""
        self.supervisor.set_limits(app, stored)

    def set_hosts(self, app: str, hosts: list[str]) -> None:
        """Route these host names to the app."""
        self.supervisor.set_hosts(app, hosts)

    def remove(self, app: str) -> None:
        """Stop and forget the app's processes."""
        self.supervisor.remove(app)

    def is_running(self, app: str) -> bool:
        """Whether the supervisor runs the app."""
        return app in self.supervisor.apps

    def wait_drained(self, app: str) -> None:
        """Wait until the app's old generations have stopped."""
        self.supervisor.wait_drained(app)

    def health_path(self, app: str) -> str | None:
        """The running release's health-check path."""
        state = self.supervisor.apps.get(app)
        return state.spec.health_path if state and state.spec else None

    def _prune(self, app: str, keep: int) -> None:
        base = self.home / "apps" / app
        dirs = sorted((d for d in base.glob("v*") if d.name[1:].isdigit()),
                      key=lambda d: int(d.name[1:]))
        for old in dirs[:-KEEP_RELEASE_DIRS]:
            if old.name != f"v{keep}":
                shutil.rmtree(old, ignore_errors=True)

    def _record_pids(self) -> None:
        pids = [p.popen.pid for s in self.supervisor.apps.values() for p in s.procs.values()]
        pids += self.router.pids()  # a crashed Roost leaves Caddy serving: the next start ends it
        leftovers.record(self._pidfile, pids)

    def _kill_leftovers(self) -> None:
        killed = leftovers.kill(self._pidfile)  # only those still the processes recorded
        deadline = time.monotonic() + 10  # their ports are free once they are gone
        while killed and time.monotonic() < deadline:
            killed = [pid for pid in killed if spawn.running(pid)]  # group leaders
            time.sleep(0.02)

"""One runtime per app: VM apps go to the ``vm`` runtime, every other app to the platform's.

Orchestration and the API hold one :class:`~roost.runtime.interface.AppRuntime`; this one
asks, for each call about an app, where that app runs (``is_vm``, read from the app's
record) and hands the call on. The router, the logs and the host names are the platform
runtime's: a VM app is routed by the same router (its upstream is the VM) and its journal
is copied into the same log files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from roost.runtime.interface import AppRuntime, Emit, ExtraRoutes
from roost.runtime.model import ReleaseSpec
from roost.runtime.vm.service import VmRuntime
from roost.store.models import App, Release


class PerAppRuntime:
    """Sends each app's calls to the runtime that runs it."""

    def __init__(self, platform: AppRuntime, vm: VmRuntime,
                 is_vm: Callable[[str], bool]) -> None:
        self.platform = platform
        self.vm = vm
        self.is_vm = is_vm
        self.router_port = platform.router_port
        self.logs = platform.logs
        # VM apps build on this host like local ones (a VM app on a swarm is refused).
        self.builds = platform.builds

    def _for(self, app: str) -> AppRuntime | VmRuntime:
        return self.vm if self.is_vm(app) else self.platform

    @property
    def router(self) -> ExtraRoutes:
        """The platform runtime's router (asset routes go there)."""
        return self.platform.router

    def start(self) -> None:
        """Start the platform runtime, then the vm runtime."""
        self.platform.start()
        self.vm.start()

    def stop(self) -> None:
        """Stop following VM journals, then stop the platform runtime."""
        self.vm.stop()
        self.platform.stop()

    def hosts(self, app: App) -> list[str]:
        """The host names an app answers to (the same rule for every app)."""
        return self.platform.hosts(app)

    def web_url(self, app_name: str) -> str:
        """The app's URL through the router."""
        return self.platform.web_url(app_name)

    def release_dir(self, app: str, number: int, slug_key: str) -> Path:
        """Where the release is unpacked (on the app's VM for a VM app)."""
        return self._for(app).release_dir(app, number, slug_key)

    def spec(self, app: str, release: Release, env: dict[str, str]) -> ReleaseSpec:
        """A runnable spec for a release."""
        return self._for(app).spec(app, release, env)

    def activate(self, ctx: Any, app_name: str, release: Release, env: dict[str, str],
                 emit: Emit) -> None:
        """Deploy on the app's runtime."""
        self._for(app_name).activate(ctx, app_name, release, env, emit)

    def restore(self, ctx: Any, env_of: Callable[[Release], dict[str, str]],
                only: Callable[[str], bool] | None = None) -> None:
        """Each runtime brings back its own apps."""
        self.platform.restore(ctx, env_of,
                              only=lambda a: not self.is_vm(a) and (only is None or only(a)))
        self.vm.restore(ctx, env_of, only=lambda a: self.is_vm(a) and (only is None or only(a)))

    def scale(self, ctx: Any, app_name: str, changes: dict[str, int]) -> dict[str, int]:
        """Change the formation where the app runs."""
        return self._for(app_name).scale(ctx, app_name, changes)

    def ps(self, app: str) -> list[dict[str, object]]:
        """The app's processes."""
        return self._for(app).ps(app)

    def restart(self, app: str, ptype: str | None = None) -> None:
        """Restart the app's processes."""
        self._for(app).restart(app, ptype)

    def run(self, spec: ReleaseSpec, command: str) -> Iterator[str | int]:
        """A one-off process where the app runs."""
        return self._for(spec.app).run(spec, command)

    def set_limits(self, app: str, stored: dict[str, Any] | None) -> None:
        """Apply the app's limits where it runs."""
        self._for(app).set_limits(app, stored)

    def set_hosts(self, app: str, hosts: list[str]) -> None:
        """Route these host names to the app."""
        self._for(app).set_hosts(app, hosts)

    def remove(self, app: str) -> None:
        """Stop and forget the app wherever it ran (its record may be gone already)."""
        if self.vm.knows(app):
            self.vm.remove(app)
        self.platform.remove(app)

    def is_running(self, app: str) -> bool:
        """Whether the app runs now."""
        return self._for(app).is_running(app)

    def health_path(self, app: str) -> str | None:
        """The running release's health-check path."""
        return self._for(app).health_path(app)

    def wait_drained(self, app: str) -> None:
        """Wait until the app's previous generation has stopped."""
        self._for(app).wait_drained(app)

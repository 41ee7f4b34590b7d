"""What orchestration and the API need from a runtime, whichever runs the apps.

Platform-wide backends implement it: ``local`` (:class:`roost.runtime.service.Runtime`, the
supervisor and Caddy router on this host, the default) and ``swarm``
(:class:`roost.runtime.swarm.service.SwarmRuntime`, Docker Engine swarm mode, chosen with
``ROOST_RUNTIME=swarm``). With the local one, :class:`roost.runtime.perapp.PerAppRuntime`
sends the calls about apps created with ``--runtime vm`` to
:class:`roost.runtime.vm.service.VmRuntime` (systemd on a VM over SSH). Callers use only
these members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from roost.runtime.limits import ResourceLimits
from roost.runtime.logs import AppLogs
from roost.runtime.model import ReleaseSpec
from roost.store.models import App, Release

Emit = Callable[[dict[str, Any]], None]


class ExtraRoutes(Protocol):
    """The part of a router other subsystems add routes to (the asset host)."""

    def set_extra(self, name: str, routes: list[dict[str, Any]]) -> None:
        """Replace the extra routes called ``name``."""


@dataclass(frozen=True)
class BuildJob:
    """A build to run as a task: object-store keys it reads and writes, its config, limits.

    The task downloads ``bundle_key`` (source, buildpacks, ``build.json``) and the cache at
    ``cache_key`` (when there is one), and uploads the slug to ``slug_key``, the buildpacks'
    ``bin/release`` output to ``result_key`` and the new cache to ``cache_key``.
    """

    app: str
    build_id: str
    bundle_key: str
    slug_key: str
    result_key: str
    cache_key: str
    config: dict[str, str]
    resources: ResourceLimits
    timeout: float
    max_slug_bytes: int


class TaskBuilds(Protocol):
    """A runtime that runs builds as its own tasks (swarm), not on this host."""

    def build(self, job: BuildJob, on_output: Callable[[str], None]) -> int:
        """Run the build; its output lines go to ``on_output``; its exit status (124: timed out)."""


class AppRuntime(Protocol):
    """Runs each app's current release and answers for its processes."""

    router_port: str
    logs: AppLogs
    builds: TaskBuilds | None  # None: builds run on this host (build/service.py)

    @property
    def router(self) -> ExtraRoutes:
        """Where the asset host's routes go."""

    def start(self) -> None:
        """Start what this runtime needs (router, supervisor, swarm services, log pumps)."""

    def stop(self) -> None:
        """Stop this process's part (apps on a swarm keep running)."""

    def hosts(self, app: App) -> list[str]:
        """The host names an app answers to."""

    def web_url(self, app_name: str) -> str:
        """The app's URL through the router."""

    def release_dir(self, app: str, number: int, slug_key: str) -> Path:
        """The unpacked slug of a release on this host."""

    def spec(self, app: str, release: Release, env: dict[str, str]) -> ReleaseSpec:
        """A runnable spec for a release."""

    def activate(self, ctx: Any, app_name: str, release: Release, env: dict[str, str],
                 emit: Emit) -> None:
        """Move the app to ``release`` without dropping a request; RuntimeFailure if not."""

    def restore(self, ctx: Any, env_of: Callable[[Release], dict[str, str]],
                only: Callable[[str], bool] | None = None) -> None:
        """Bring every app (or those ``only`` accepts) back to its recorded formation."""

    def scale(self, ctx: Any, app_name: str, changes: dict[str, int]) -> dict[str, int]:
        """Change the formation and record it."""

    def ps(self, app: str) -> list[dict[str, object]]:
        """The app's processes (type, number, state, release, uptime, restarts, node)."""

    def restart(self, app: str, ptype: str | None = None) -> None:
        """Restart the app's processes (web without dropping requests)."""

    def run(self, spec: ReleaseSpec, command: str) -> Iterator[str | int]:
        """A one-off process: output lines as they come, then the exit code."""

    def set_limits(self, app: str, stored: dict[str, Any] | None) -> None:
        """Apply the app's stored per-type limits to what starts next."""

    def set_hosts(self, app: str, hosts: list[str]) -> None:
        """Route these host names to a running app."""

    def remove(self, app: str) -> None:
        """Stop and forget every process of an app."""

    def is_running(self, app: str) -> bool:
        """Whether this runtime runs the app now."""

    def health_path(self, app: str) -> str | None:
        """The running release's health-check path (None: none or not running)."""

    def wait_drained(self, app: str) -> None:
        """Wait until the app's previous generation has stopped (e.g. before a credential
        it used is retired)."""

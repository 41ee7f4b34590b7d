"""Apps on VMs: placing an app on a host at creation, and what the vm runtime reads back.

An app created with ``--runtime vm --host NAME`` records ``{"runtime": "vm", "vm": {"host":
NAME, "port": P}}`` in its settings: P is the port its web socket holds on that VM (and
P+1 the loopback port where a new release is checked), the first pair no other app on the
host uses. The host lists the app, so its maintainers hear of the host's trouble.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost.errors import InvalidInput, NotFound
from roost.hosts import keys
from roost.orchestration import assetflow, hostflow
from roost.orchestration.platform import Platform
from roost.runtime.interface import AppRuntime
from roost.runtime.perapp import PerAppRuntime
from roost.runtime.vm.placement import Placement
from roost.runtime.vm.service import VmRuntime
from roost.runtime.vm.ssh import VmHost
from roost.store.models import App
from roost.store.models.hosts import Host

RUNTIMES = ("local", "vm")
FIRST_PORT = 7000


def check_placement(ctx: Platform, session: Session, runtime: str | None,
                    host: str | None) -> Host | None:
    """The host a new app goes to (None: the platform runtime); bad input is refused."""
    runtime = runtime or "local"
    if runtime not in RUNTIMES:
        raise InvalidInput(f"runtime {runtime!r} is not known: use --runtime vm (with --host "
                           "NAME) or leave it out to run the app on the platform")
    if runtime != "vm":
        if host:
            raise InvalidInput("--host only goes with --runtime vm: e.g. `roost apps create "
                               "old --runtime vm --host legacy1`")
        return None
    if not host:
        raise InvalidInput("--runtime vm needs --host NAME, the VM the app runs on "
                           "(`roost hosts` lists them; `roost hosts add` adds one)")
    if ctx.settings.runtime != "local":
        raise InvalidInput(f"VM apps are routed by the local router; this platform runs "
                           f"ROOST_RUNTIME={ctx.settings.runtime}")
    row = session.scalar(select(Host).where(Host.name == host))
    if row is None:
        raise InvalidInput(f"no host named {host!r}: add it first with `roost hosts add "
                           f"{host} ssh://root@ADDRESS`, or pick one of `roost hosts`")
    owners = hostflow.recipes_ran_by(session, row)
    if owners:
        raise InvalidInput(f"{host} ran the own recipes of {', '.join(sorted(owners))} (root on "
                           "it), so it is theirs alone: pick another host, or rebuild the "
                           f"machine and `roost hosts remove {host}` then add it again")
    return row


def place(session: Session, app: App, host: Host) -> None:
    """Record that ``app`` runs on ``host``, on the first free port pair there."""
    used: set[int] = set()
    for other in session.scalars(select(App)):
        vm = (other.settings or {}).get("vm") or {}
        if vm.get("host") == host.name and isinstance(vm.get("port"), int):
            used.add(vm["port"])
    port = FIRST_PORT
    while port in used:
        port += 2
    app.settings = {**(app.settings or {}), "runtime": "vm",
                    "vm": {"host": host.name, "port": port}}
    if app.name not in (host.apps or []):
        host.apps = [*(host.apps or []), app.name]


def runtime_of(app: App) -> dict[str, Any]:
    """What the API shows of where an app runs."""
    vm = (app.settings or {}).get("vm") or {}
    if (app.settings or {}).get("runtime") == "vm":
        return {"runtime": "vm", "host": vm.get("host"), "port": vm.get("port")}
    return {"runtime": "local", "host": None, "port": None}


def is_vm(ctx: Platform, app: str) -> bool:
    """Whether ``app`` runs on a VM."""
    with ctx.sessions.begin() as session:
        settings = session.scalar(select(App.settings).where(App.name == app))
    return isinstance(settings, dict) and settings.get("runtime") == "vm"


def placement(ctx: Platform, app: str) -> Placement:
    """Where a VM app runs and how to log in there (the private key decrypted)."""
    with ctx.sessions.begin() as session:
        row = session.scalar(select(App).where(App.name == app))
        vm = ((row.settings or {}).get("vm") or {}) if row is not None else {}
        host = session.scalar(select(Host).where(Host.name == vm.get("host", "")))
        if row is None or host is None or not isinstance(vm.get("port"), int):
            raise NotFound(f"{app} is not placed on a known host: recreate it with "
                           "`roost apps create APP --runtime vm --host NAME`")
        key = (ctx.cipher.decrypt(host.private_key_encrypted)
               if host.private_key_encrypted is not None
               else keys.platform_key(ctx.settings.home)[0])
        return Placement(VmHost(name=host.name, address=host.address, port=host.port,
                                user=host.user, private_key=key,
                                host_key_type=host.host_key_type, host_key=host.host_key),
                         int(vm["port"]))


def with_vm_apps(ctx: Platform, found: AppRuntime, router: Any) -> AppRuntime:
    """The platform runtime, with the apps placed on VMs sent to the vm runtime."""
    s = ctx.settings
    vm = VmRuntime(router, found.logs, ctx.objects, lambda app: placement(ctx, app),
                   found.hosts, health_timeout=s.health_timeout_seconds, grace=s.grace_seconds)
    # Its traffic comes through this host's router, which serves a local store's asset host.
    vm.prepare = lambda release, app_dir: assetflow.release_assets(ctx, release, app_dir)
    return PerAppRuntime(found, vm, lambda app: is_vm(ctx, app))

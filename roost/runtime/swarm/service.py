"""The ``swarm`` runtime: apps as Docker swarm services (``ROOST_RUNTIME=swarm``).

Talks to the manager at ``DOCKER_HOST`` through the Docker SDK. Apps run in the stack image
(images.py) from their slug (runner.py, slugserve.py); the router is Caddy as a global
service reaching healthy tasks by DNS (router.py). Deploys and restarts start a new
generation of services beside the old, wait for its tasks to be healthy, then remove the
old ones, which swarm takes out of DNS before stopping (SIGTERM, grace, SIGKILL). Swarm
replaces dead tasks and reschedules a departed node's tasks by itself.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from roost.core.secrets import load_or_create_key
from roost.errors import InvalidInput, RuntimeFailure
from roost.objectstore import ObjectStore
from roost.runtime import limits as limits_mod
from roost.runtime.caddyproc import Issuer
from roost.runtime.interface import Emit, TaskBuilds
from roost.runtime.logs import AppLogs
from roost.runtime.model import ReleaseSpec, check_formation, describe_formation
from roost.runtime.swarm import (
    builds,
    certs,
    generations,
    images,
    networks,
    oneoff,
    router,
    tasks,
)
from roost.runtime.swarm.calls import swarm_call
from roost.runtime.swarm.logpump import LogPump
from roost.runtime.swarm.nodeimages import NodeImages
from roost.runtime.swarm.slugserve import SlugServer, read_app_json
from roost.store.models import App, Release

log = logging.getLogger("roost.swarm")
TASK_APP_DIR = Path("/tmp/app")  # where the runner unpacks the slug in each task


@dataclass
class SwarmSpec(ReleaseSpec):
    """A release on a swarm: its slug's key instead of an unpacked directory."""

    slug_key: str = ""
    files: dict[str, bytes] = field(default_factory=dict)  # put in the app's directory


class NoExtraRoutes:
    """The swarm router's routes depend on nothing but the base domain (router.py)."""

    def set_extra(self, name: str, routes: list[dict[str, Any]]) -> None:
        """Asset routes of a local object store are not served on a swarm (use S3 URLs)."""


class SwarmRuntime:
    """Runs apps on a Docker swarm (see the module docstring)."""

    def __init__(self, home: Path, router_listen: str, base_domain: str, store: ObjectStore,
                 slug_listen: str, network: str = "roost", image: str = "",
                 node_docker: str = "", secret_key: bytes = b"",
                 health_timeout: float = 60.0, grace: float = 30.0, max_per_type: int = 20,
                 default_limits: limits_mod.ResourceLimits | None = None,
                 tls_listen: str = "", tls_issuer: Issuer = Issuer(),
                 router_user: str | None = None) -> None:
        self.home = home
        self.router_port = router_listen.rpartition(":")[2]
        self.tls_port = int(tls_listen.rpartition(":")[2]) if tls_listen else 0
        self.base_domain = base_domain
        self.store = store
        self.network = network
        self.image_setting = image
        try:
            node_docker.format(address="10.0.0.1", hostname="node")
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidInput(f"ROOST_SWARM_NODE_DOCKER={node_docker!r} is not a template "
                               "with {address} and {hostname}, e.g. ssh://root@{address}"
                               ) from exc
        self.node_docker = node_docker
        self.health_timeout = health_timeout
        self.grace = grace
        self.max_per_type = max_per_type
        self.default_limits = default_limits or limits_mod.ResourceLimits()
        self.logs = AppLogs(home / "logs")
        self.router = NoExtraRoutes()
        self.builds: TaskBuilds | None = builds.SwarmBuilds(self)
        if not slug_listen:
            raise InvalidInput("ROOST_RUNTIME=swarm needs ROOST_SWARM_SLUG_LISTEN=HOST:PORT, an "
                               "address of this host that every swarm node can reach")
        self.slugs = SlugServer.for_home(slug_listen, store,
                                         secret_key or load_or_create_key(home), home)
        # HTTPS for custom domains: certificates issued here, pulled by the routers.
        self.tls = certs.RouterTls(
            self.slugs, certs.CertIssuer(home / "swarm-certs", tls_issuer,
                                         slug_listen.rpartition(":")[0], router_user),
            base_domain, int(self.router_port), self.tls_port) if self.tls_port else None
        self.client: Any = None
        self.setup: tasks.TaskSetup | None = None
        self.pump: LogPump | None = None
        self._limits: dict[str, dict[str, Any]] = {}
        self._app_json: dict[str, dict[str, Any]] = {}
        self._domains: dict[str, tuple[str, ...]] = {}  # app -> its routed custom domains
        # The release's asset vars and files (its manifest), for the app's directory in a task.
        self.prepare: Callable[[Release, Path], tuple[dict[str, str], dict[str, bytes]]] \
            | None = None
        self._stop = threading.Event()
        self._assigning = threading.Lock()  # this host's deploys claim one at a time

    @classmethod
    def from_settings(cls, s: Any, store: ObjectStore) -> SwarmRuntime:
        """The runtime the settings describe (``DOCKER_HOST`` is read by the Docker SDK)."""
        return cls(s.home, s.router_listen, s.base_domain, store, s.swarm_slug_listen,
                   s.swarm_network, s.stack_image, s.swarm_node_docker,
                   load_or_create_key(s.home, s.secret_key),
                   s.health_timeout_seconds, s.grace_seconds,
                   s.max_processes_per_type, limits_mod.default_limits(s),
                   s.router_tls_listen, Issuer.from_settings(s), s.router_user or None)

    # -- life ----------------------------------------------------------------------------
    @swarm_call
    def start(self) -> None:
        """Check the swarm, ensure network, images and router, serve slugs, follow logs."""
        import docker

        self.client = docker.from_env(timeout=60)
        swarm = self.client.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise RuntimeFailure("DOCKER_HOST is not a swarm manager: run `docker swarm init` "
                                 "there (or point DOCKER_HOST at a manager)")
        if not self.client.networks.list(names=[self.network]):
            self.client.networks.create(self.network, driver="overlay", attachable=True,
                                        labels={"roost": "network"})
        image = images.ensure_stack(self.client, self.image_setting)
        nodes = NodeImages(self.node_docker, self.image_setting)
        runner_config = tasks.shipped_config(self.client, "runner.py", "roost-runner")
        # A stopping task keeps serving this long after swarm took it out of DNS: the
        # removal reaches every node's DNS by gossip, then each router within its 1 s
        # refresh; a router that still dials a gone task waits for its dial timeout.
        drain = min(4.0, self.grace / 2)
        self.setup = tasks.TaskSetup(image, self.network, runner_config, self.health_timeout,
                                     self.grace, drain, tuple(nodes.constraints()))
        router_image = images.ensure_router(self.client)
        nodes.label_self(self.client)  # the other nodes are loaded in the background
        pull = self.tls.pull() if self.tls is not None else None
        pulls_from = router.ensure(self.client, router_image,
                                   [self.network, *networks.ensure_pool(self.client)],
                                   self.base_domain, int(self.router_port),
                                   self.setup.constraints, self.tls_port, pull,
                                   self.slugs.live_peers,
                                   self.tls.boot_challenge() if self.tls is not None else "")
        if self.tls is not None and not self.tls.begin(pulls_from):
            self.tls = None  # another live host issues the routers' certificates
        if self.node_docker:
            threading.Thread(target=self._watch_nodes, args=(nodes,), name="roost-swarm-nodes",
                             daemon=True).start()
        self.slugs.start()
        self.pump = LogPump(self.client, self.logs)
        threading.Thread(target=self.pump.watch, args=(self._stop, tasks.labels_of, tasks.age),
                         name="roost-swarm-logs", daemon=True).start()

    def stop(self) -> None:
        """Stop serving slugs and following logs; the apps keep running on the swarm."""
        self._stop.set()
        self.slugs.stop()
        if self.tls is not None:
            self.tls.issuer.stop()

    def _watch_nodes(self, nodes: NodeImages) -> None:
        """Load the images onto the nodes, and onto those that join later (they take no
        task until then)."""
        while True:
            try:
                nodes.sync(self.client)
            except Exception as exc:
                log.warning("swarm nodes' images: %s", exc)
            if self._stop.wait(3.0):
                return

    # -- addresses -------------------------------------------------------------------------
    def hosts(self, app: App) -> list[str]:
        """The host names an app answers to: its own and its routed custom domains."""
        return [f"{app.name}.{self.base_domain}", *(app.settings or {}).get("domains", [])]

    def _remember(self, app: App) -> None:
        settings = app.settings or {}
        self._limits[app.name] = dict(settings.get("limits") or {})
        self._domains[app.name] = tuple(sorted(h.lower() for h in settings.get("domains", [])))
        self._certify()

    def _certify(self) -> None:
        """Have certificates issued for exactly the routed custom domains (with HTTPS)."""
        if self.tls is not None:
            self.tls.certify({d for found in self._domains.values() for d in found})

    def web_url(self, app_name: str) -> str:
        """The app's URL through the routers (any node's address, this port)."""
        return f"http://{app_name}.{self.base_domain}:{self.router_port}"

    def release_dir(self, app: str, number: int, slug_key: str) -> Path:
        """Slugs are unpacked by the tasks, not on this host."""
        raise InvalidInput("on a swarm, releases are not unpacked on the control plane; "
                           "publish assets from the build (an S3 object store)")

    # -- releases ----------------------------------------------------------------------------
    def spec(self, app: str, release: Release, env: dict[str, str]) -> SwarmSpec:
        """The release's spec; app.json is read from its slug once."""
        if not release.slug_key:
            raise RuntimeFailure(f"v{release.number} of {app} has no slug to run")
        if release.slug_key not in self._app_json:
            self._app_json[release.slug_key] = read_app_json(self.store, release.slug_key)
        env, files = dict(env), dict[str, bytes]()
        if self.prepare is not None:
            found, files = self.prepare(release, TASK_APP_DIR)
            env.update(found)
        return SwarmSpec(app=app, release=release.number, directory=TASK_APP_DIR,
                         env=env, process_types=dict(release.process_types),
                         app_json=self._app_json[release.slug_key], slug_key=release.slug_key,
                         files=files)

    def _payload(self, spec: SwarmSpec) -> dict[str, Any]:
        urls = self.slugs.urls(spec.slug_key)
        return {"slug_url": urls[0], "slug_urls": urls, "env": spec.env,
                "process_types": spec.process_types, "release": f"v{spec.release}",
                "files": {path: base64.b64encode(data).decode()
                          for path, data in spec.files.items()}}

    def _ptype_limits(self, app: str, ptype: str) -> limits_mod.ResourceLimits:
        return limits_mod.for_type({"limits": self._limits.get(app) or {}}, ptype,
                                   self.default_limits)

    @swarm_call
    def _deploy(self, spec: SwarmSpec, formation: dict[str, int]) -> None:
        assert self.setup is not None, "the swarm runtime is not started"
        gen = str(time.time_ns() // 1_000_000)
        network = self._network(spec.app)
        secret = tasks.release_secret(self.client, spec.app, gen, self._payload(spec))
        old = generations.services(self.client, spec.app)
        new = []
        try:
            for ptype in sorted(spec.process_types):
                template = tasks.task_template(self.setup, spec.app, ptype, secret,
                                               self._ptype_limits(spec.app, ptype),
                                               spec.health_path, [ptype],
                                               domains=self._domains.get(spec.app, ()),
                                               network=network)
                labels = {"roost.app": spec.app, "roost.type": ptype, "roost.gen": gen,
                          "roost.release": str(spec.release), "roost.secret": secret[1],
                          "roost.health": spec.health_path or "",
                          networks.SERVICE_LABEL: network}
                new.append(tasks.create(self.client, template, f"roost-{spec.app}-{ptype}-{gen}",
                                        labels, formation.get(ptype, 0)))
            tasks.await_healthy(self.client, new, self.health_timeout,
                                f"v{spec.release} of {spec.app}")
        except BaseException:
            for service in new:
                service.remove()
            generations.drop_secrets(self.client, spec.app, keep=set())
            raise
        for service in old:  # swarm takes them out of DNS, then SIGTERM, grace, SIGKILL
            service.remove()
        generations.drop_secrets(self.client, spec.app,
                                 keep={tasks.labels_of(s)["roost.secret"] for s in new})

    def _network(self, app: str) -> str:
        """The app's network from the pool; when the pool had to grow, the router joins the
        new networks first (before any task of the app can be routed to)."""
        with self._assigning:
            network, made = networks.assign(self.client, app, self.grace)
            # the router is on it already unless the pool just grew, here or on another host
            router.attach(self.client, made or [network])
        return network

    def activate(self, ctx: Any, app_name: str, release: Release, env: dict[str, str],
                 emit: Emit) -> None:
        """Start ``release`` beside the running one, wait for health, then retire the old."""
        with ctx.sessions.begin() as session:
            app = session.scalar(select(App).where(App.name == app_name))
            assert app is not None
            formation = dict(app.formation or {})
            self._remember(app)
        spec = self.spec(app_name, release, env)
        if not formation:
            formation = {"web": 1} if "web" in spec.process_types else {}
        formation = check_formation(spec, {k: v for k, v in formation.items()
                                           if k in spec.process_types}, self.max_per_type)
        emit({"type": "step", "step": "release",
              "message": f"starting {describe_formation(formation)} on the swarm"})
        self._deploy(spec, formation)
        self._record(ctx, app_name, formation)
        router.wait_running(self.client)  # "live" means every node's router answers
        emit({"type": "step", "step": "release", "message": f"live at {self.web_url(app_name)}"})

    def restore(self, ctx: Any, env_of: Callable[[Release], dict[str, str]],
                only: Callable[[str], bool] | None = None) -> None:
        """Apps keep running on the swarm; start those (``only`` accepts) that have no
        services there."""
        with ctx.sessions.begin() as session:
            rows = [(a.name, dict(a.formation or {}), r, env_of(r)) for a, r in session.execute(
                select(App, Release).join(Release, (Release.app_id == App.id)
                                          & (Release.number == App.current_release)))
                    if only is None or only(a.name)]
            for app in session.scalars(select(App)):
                self._remember(app)
        for name, formation, release, env in rows:
            try:
                if not generations.services(self.client, name):
                    self._deploy(self.spec(name, release, env), formation)
            except Exception as exc:  # one broken app must not stop the rest
                log.error("could not restore %s v%s on the swarm: %s", name, release.number, exc)

    def _record(self, ctx: Any, app_name: str, formation: dict[str, int]) -> None:
        with ctx.sessions.begin() as session:
            app = session.scalar(select(App).where(App.name == app_name))
            assert app is not None
            app.formation = formation

    # -- the rest of the interface ---------------------------------------------------------
    @swarm_call
    def scale(self, ctx: Any, app_name: str, changes: dict[str, int]) -> dict[str, int]:
        """Set replica counts of the current services and record the formation."""
        if not changes:
            raise InvalidInput("give at least one TYPE=N, e.g. web=2")
        current = generations.current(self.client, app_name)
        for ptype, count in changes.items():
            if ptype not in current:
                known = ", ".join(sorted(current)) or "none"
                raise InvalidInput(f"{app_name} has no process type {ptype!r} "
                                   f"(its Procfile has: {known})")
            if not isinstance(count, int) or not 0 <= count <= self.max_per_type:
                raise InvalidInput(f"{ptype}={count}: give 0 to {self.max_per_type} "
                                   "(ROOST_MAX_PROCESSES_PER_TYPE)")
        for ptype, count in changes.items():
            tasks.set_replicas(self.client, current[ptype], count)
        formation = {p: tasks.replicas_of(s) for p, s in current.items()} | changes
        formation = {p: n for p, n in formation.items() if n}
        self._record(ctx, app_name, formation)
        return formation

    @swarm_call
    def ps(self, app: str) -> list[dict[str, object]]:
        """Each running task: type, number, state, release, uptime, node."""
        return generations.task_rows(self.client, generations.current(self.client, app))

    @swarm_call
    def restart(self, app: str, ptype: str | None = None,
                web_aliases: list[str] | None = None) -> None:
        """A new generation of the app's services beside the old, then the old retired;
        the web tasks answer to ``web_aliases`` when given (else to the same names)."""
        current = generations.current(self.client, app)
        if ptype is not None and ptype not in current:
            raise InvalidInput(f"{app} has no process type {ptype!r} running")
        gen = str(time.time_ns() // 1_000_000)
        chosen = [s for p, s in current.items() if ptype in (None, p)]
        fresh = []
        try:
            for service in chosen:
                spec = service.attrs["Spec"]
                labels = {**tasks.labels_of(service), "roost.gen": gen}
                template = dict(spec["TaskTemplate"])
                if labels["roost.type"] == "web" and web_aliases is not None:
                    template = tasks.set_aliases(template, web_aliases)
                constraints = self.setup.constraints if self.setup is not None else ()
                template["Placement"] = {"Constraints": list(constraints)}
                template["Resources"] = tasks.resources(self._ptype_limits(app,
                                                                           labels["roost.type"]))
                fresh.append(tasks.create(self.client, template,
                                          f"roost-{app}-{labels['roost.type']}-{gen}", labels,
                                          tasks.replicas_of(service)))
            tasks.await_healthy(self.client, fresh, self.health_timeout, f"{app}'s restart")
        except BaseException:
            for service in fresh:
                service.remove()
            raise
        for service in chosen:
            service.remove()

    @swarm_call
    def run(self, spec: ReleaseSpec, command: str) -> Iterator[str | int]:
        """A one-off task (a replicated job) on the swarm: its output, then its exit code."""
        assert isinstance(spec, SwarmSpec) and self.setup is not None
        gen = str(time.time_ns() // 1_000_000)
        secret = tasks.release_secret(self.client, spec.app, gen, self._payload(spec))
        network = self._network(spec.app)
        template = tasks.task_template(self.setup, spec.app, "run", secret,
                                       self._ptype_limits(spec.app, "run"), None,
                                       ["run", "--", command], once=True, network=network)
        labels = {"roost.app": spec.app, "roost.type": "run", "roost.gen": gen,
                  "roost.release": str(spec.release), "roost.secret": secret[1], "roost.once": "1",
                  networks.SERVICE_LABEL: network}
        service = tasks.create(self.client, template, f"roost-{spec.app}-run-{gen}", labels, 1,
                               once=True)
        return oneoff.follow(self.client, service,
                             lambda: generations.drop_secrets(self.client, spec.app, keep=set()))

    def set_limits(self, app: str, stored: dict[str, Any] | None) -> None:
        """Limits apply to the next generation (the limits API restarts the type)."""
        self._limits[app] = dict(stored or {})

    @swarm_call
    def set_hosts(self, app: str, hosts: list[str]) -> None:
        """Route ``hosts`` to the app: when its custom domains changed, a new generation of
        its web tasks, carrying their aliases, starts beside the old one (as a restart)."""
        default = f"{app}.{self.base_domain}"
        self._domains[app] = tuple(sorted({h.lower() for h in hosts if h != default}))
        self._certify()
        web = generations.current(self.client, app).get("web")
        if web is None:
            return
        attached = web.attrs["Spec"]["TaskTemplate"].get("Networks") or []
        wanted = tasks.web_aliases(app, self._domains[app])
        if sorted(a for n in attached for a in n.get("Aliases") or []) != sorted(wanted):
            self.restart(app, "web", web_aliases=wanted)

    @swarm_call
    def remove(self, app: str) -> None:
        """Remove every service and secret of the app; its network goes back to the pool once
        the tasks can have drained."""
        for service in generations.services(self.client, app):
            service.remove()
        with self._assigning:
            networks.release(self.client, app)
        generations.drop_secrets(self.client, app, keep=set())
        if self._domains.pop(app, None):
            self._certify()

    @swarm_call
    def is_running(self, app: str) -> bool:
        """Whether the app has services on the swarm."""
        return bool(generations.services(self.client, app))

    def wait_drained(self, app: str) -> None:
        """Nothing to wait for here: a deploy returns once the old services are removed;
        their tasks may still finish requests for the stop grace period (docs/scaling.md)."""

    def health_path(self, app: str) -> str | None:
        """The current web service's health path."""
        try:
            web = generations.current(self.client, app).get("web")
        except Exception:
            return None
        return (tasks.labels_of(web).get("roost.health") or None) if web is not None else None

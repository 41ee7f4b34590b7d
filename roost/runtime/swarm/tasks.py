"""Swarm services of apps: their specs, names and labels, and waiting on their tasks.

Every (release, process type, generation) is one replicated service named
``roost-APP-TYPE-GEN`` with labels ``roost.app``, ``roost.type``, ``roost.release``,
``roost.gen``; a deploy or restart makes a new generation beside the old one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from roost.errors import RuntimeFailure
from roost.runtime.limits import ResourceLimits
from roost.runtime.swarm.router import APP_PORT, alias, domain_alias

NS = 1_000_000_000
RUNNER = "/roost/runner.py"
FAILED = ("failed", "rejected", "orphaned")


@dataclass(frozen=True)
class TaskSetup:
    """What every task of an app service shares."""

    image: str
    network: str
    runner_config: tuple[str, str]  # (id, name) of the slug-runner's docker config
    health_timeout: float
    grace: float
    drain: float = 2.0
    constraints: tuple[str, ...] = ()  # placement: nodes that hold Roost's images


def shipped_config(client: Any, filename: str, prefix: str) -> tuple[str, str]:
    """A file of this package as a docker config ``PREFIX-<hash>``: (id, name)."""
    import hashlib

    import docker.errors

    source = (Path(__file__).parent / filename).read_bytes()
    name = f"{prefix}-{hashlib.sha256(source).hexdigest()[:12]}"
    try:
        found = client.configs.get(name)
    except docker.errors.NotFound:
        found = client.configs.create(name=name, data=source, labels={"roost": "runner"})
    return found.id, name


def labels_of(service: Any) -> dict[str, str]:
    """A service's labels."""
    return dict(service.attrs["Spec"].get("Labels") or {})


def release_secret(client: Any, app: str, gen: str, payload: dict[str, Any]) -> tuple[str, str]:
    """A docker secret holding the release's config vars and slug URL: (id, name).

    Config vars travel as a secret, not as task environment, so ``docker inspect`` of a
    service or container does not show them.
    """
    name = f"roost-{app}-{gen}"
    secret = client.secrets.create(name=name, data=json.dumps(payload).encode(),
                                   labels={"roost.app": app, "roost.gen": gen})
    return secret.id, name


def resources(limits: ResourceLimits) -> Any:
    """Swarm resource limits (memory and CPU; pids is not a swarm service limit)."""
    from docker.types import Resources

    return Resources(cpu_limit=int(limits.cpu * NS), mem_limit=limits.memory)


def web_aliases(app: str, domains: tuple[str, ...]) -> list[str]:
    """The DNS names of an app's web tasks on the overlay network: the app's own, then one
    per custom domain."""
    return [alias(app), *(domain_alias(h) for h in sorted(set(domains)))]


def set_aliases(template: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
    """A copy of a service's task template (as the Docker API gives it) whose overlay
    network attachment carries ``aliases``."""
    networks = [{**n, "Aliases": list(aliases)} for n in template.get("Networks") or []]
    return {**template, "Networks": networks}


def task_template(setup: TaskSetup, app: str, ptype: str, secret: tuple[str, str],
                  limits: ResourceLimits, health: str | None, command: list[str],
                  once: bool = False, domains: tuple[str, ...] = (), network: str = "") -> Any:
    """The task template of one process type (``once``: a one-off task, never restarted)
    on ``network`` (the app's own; the shared one by default); web tasks answer to the
    app's alias and its custom ``domains``' aliases."""
    from docker.types import (
        ConfigReference,
        ContainerSpec,
        Healthcheck,
        NetworkAttachmentConfig,
        Placement,
        RestartPolicy,
        SecretReference,
        TaskTemplate,
    )

    # Every check is a `docker exec` (runc, the shim, dockerd: tens of ms of CPU on the node),
    # for each web task for its whole life. Every 2 s rather than every second: deploys take
    # about half a second longer to see a new task healthy, and on a busy node the requests
    # served during deploys had a p99 of 4.4x, 1.3x and 1.45x the steady one in three runs
    # of bench/swarm_restart.py (7.6x with checks every second), ratios made smaller then by
    # its app's 40 ms of Nagle and delayed ACK on every request. Docker 20.10 (Debian's)
    # has no faster interval for the start period alone (start_interval is Engine 25).
    check = None
    if ptype == "web" and not once:
        check = Healthcheck(test=["CMD", "test", "-e", "/tmp/roost-healthy"],
                            interval=2 * NS, timeout=3 * NS, retries=3,
                            start_period=int(setup.health_timeout * NS))
    env = [f"DYNO={ptype}.{{{{.Task.Slot}}}}", f"PORT={APP_PORT}",
           f"ROOST_DRAIN_SECONDS={setup.drain}"]
    if check is not None:
        env.append(f"ROOST_HEALTH={health or ''}")
    container = ContainerSpec(
        setup.image, command=["python3", RUNNER, *command], env=env,
        user="65534:65534", cap_drop=["ALL"], healthcheck=check,
        stop_grace_period=int(setup.grace * NS),
        secrets=[SecretReference(secret[0], secret[1], filename="roost-release", uid="65534",
                                 gid="65534", mode=0o400)],
        configs=[ConfigReference(setup.runner_config[0], setup.runner_config[1],
                                 filename=RUNNER, uid="0", gid="0", mode=0o444)])
    aliases = web_aliases(app, domains) if ptype == "web" and not once else []
    policy = RestartPolicy(condition="none") if once else \
        RestartPolicy(condition="any", delay=NS, max_attempts=0)
    return TaskTemplate(container, resources=resources(limits), restart_policy=policy,
                        networks=[NetworkAttachmentConfig(network or setup.network,
                                                          aliases=aliases)],
                        placement=Placement(constraints=list(setup.constraints)))


def create(client: Any, template: Any, name: str, labels: dict[str, str], replicas: int,
           once: bool = False) -> Any:
    """Create a service (``dnsrr``: no routing-mesh virtual IP) and return it."""
    from docker.types import EndpointSpec, ServiceMode, UpdateConfig

    mode = ServiceMode("replicated-job", concurrency=1, replicas=1) if once else \
        ServiceMode("replicated", replicas=replicas)
    update = None if once else UpdateConfig(parallelism=1, order="start-first")
    created = client.api.create_service(
        template, name=name, labels=labels, mode=mode, endpoint_spec=EndpointSpec(mode="dnsrr"),
        update_config=update)
    return client.services.get(created["ID"])


def set_replicas(client: Any, service: Any, count: int) -> None:
    """Change only the replica count (the SDK's scale() rewrites other fields, which makes
    swarm replace every running task)."""
    service.reload()
    spec = dict(service.attrs["Spec"])
    spec["Mode"] = {"Replicated": {"Replicas": count}}
    api = client.api
    url = api._url("/services/{0}/update", service.id)
    api._raise_for_status(api._post_json(url, data=spec,
                                         params={"version": service.attrs["Version"]["Index"]}))


def running_tasks(service: Any) -> list[dict[str, Any]]:
    """The service's tasks that should run."""
    return list(service.tasks(filters={"desired-state": "running"}))


def await_healthy(client: Any, services: list[Any], timeout: float, what: str) -> None:
    """Wait until every service has its replicas running (healthy, for web); else raise."""
    deadline = time.monotonic() + timeout
    pending = [s for s in services if replicas_of(s) > 0]
    while pending:
        service = pending[0]
        tasks = list(service.tasks())
        up = [t for t in tasks if t["DesiredState"] == "running"
              and t["Status"]["State"] == "running"]
        if len(up) >= replicas_of(service):
            pending.pop(0)
            continue
        failed = [t for t in tasks if t["Status"]["State"] in FAILED
                  or (t["DesiredState"] == "shutdown" and t["Status"].get("Err"))]
        if len(failed) >= 3 or time.monotonic() > deadline:
            reason = failed[-1]["Status"].get("Err", "") if failed else "still starting"
            tail = recent_output(client, service.id)
            raise RuntimeFailure(f"{what} did not become healthy ({reason}){tail}")
        time.sleep(0.25)


def recent_output(client: Any, service_id: str, lines: int = 5) -> str:
    """``: last lines`` of a service's output, for error messages."""
    try:
        raw = client.api.service_logs(service_id, stdout=True, stderr=True, tail=lines)
        text = b"".join(raw).decode(errors="replace").strip() if not isinstance(raw, bytes) \
            else raw.decode(errors="replace").strip()
    except Exception:
        return ""
    return f": {' | '.join(text.splitlines()[-lines:])}" if text else ""


def replicas_of(service: Any) -> int:
    """A replicated service's wanted task count."""
    return int(((service.attrs["Spec"].get("Mode") or {}).get("Replicated") or {})
               .get("Replicas", 0))


def age(timestamp: str) -> float:
    """Seconds since a docker timestamp (nanosecond precision, Z suffix)."""
    stamp = timestamp.rstrip("Z").split(".")
    when = datetime.fromisoformat(stamp[0] + "+00:00").timestamp()
    fraction = float("0." + stamp[1][:6]) if len(stamp) > 1 else 0.0
    return max(0.0, time.time() - when - fraction)

"""Builds as swarm tasks, so a build never runs on a manager, nor as root.

Each build is a replicated job (``roost-build-APP-ID``) running ``buildrunner.py`` in the
stack image as ``nobody`` with every capability dropped, under the build's memory, CPU and
pids limits, placed on worker nodes whenever the swarm has a ready one. It is attached to
no overlay network (it cannot reach app tasks); it reaches this host's slug server only.
Its secret holds the config vars and URLs signed for exactly the objects it reads and
writes; its output streams back line by line, and the job is removed when it ends or when
the build's deadline passes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from roost.runtime.interface import BuildJob
from roost.runtime.swarm import oneoff, tasks
from roost.runtime.swarm.calls import swarm_call
from roost.runtime.swarm.slugserve import SlugServer

RUNNER = "/roost/buildrunner.py"
TIMED_OUT = 124
MAX_CACHE_BYTES = 1024 ** 3
MAX_RESULT_BYTES = 1 << 20


def placement(client: Any, constraints: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """``constraints`` plus ``node.role==worker`` when the swarm has a ready, active worker
    that meets them; otherwise ``constraints`` alone and a line saying why no worker can
    take the build."""
    wanted = dict(c.split("==", 1) for c in constraints if c.startswith("node.labels."))
    why_not: list[str] = []
    for node in client.nodes.list(filters={"role": "worker"}):
        attrs = node.attrs
        spec, status = attrs.get("Spec") or {}, attrs.get("Status") or {}
        labels = spec.get("Labels") or {}
        name = (attrs.get("Description") or {}).get("Hostname") or node.id
        if status.get("State") != "ready":
            why_not.append(f"{name}: {status.get('State') or 'unknown'}")
        elif spec.get("Availability") != "active":
            why_not.append(f"{name}: {spec.get('Availability')}")
        elif not all(labels.get(k.removeprefix("node.labels.")) == v for k, v in wanted.items()):
            why_not.append(f"{name}: Roost's images not loaded yet")
        else:
            return [*constraints, "node.role==worker"], ""
    reason = "; ".join(why_not) if why_not else "the swarm has no worker node"
    return list(constraints), f"-----> No worker can take the build ({reason}): building on " \
                              "a manager, as nobody"


def payload(slugs: SlugServer, job: BuildJob, store_has_cache: bool) -> dict[str, Any]:
    """The build's secret: config vars and URLs signed for its objects until its deadline."""
    until = time.time() + job.timeout + 60
    return {
        "bundle_url": slugs.url(job.bundle_key),
        "cache_url": slugs.url(job.cache_key) if store_has_cache else "",
        "slug_put_url": slugs.put_url(job.slug_key, until, job.max_slug_bytes),
        "result_put_url": slugs.put_url(job.result_key, until, MAX_RESULT_BYTES),
        "cache_put_url": slugs.put_url(job.cache_key, until, MAX_CACHE_BYTES),
        "env": job.config,
    }


def template(image: str, runner: tuple[str, str], secret: tuple[str, str], job: BuildJob,
             constraints: list[str]) -> Any:
    """The build task: non-root, no capabilities, the build's limits, no overlay network."""
    from docker.types import (
        ConfigReference,
        ContainerSpec,
        Placement,
        RestartPolicy,
        SecretReference,
        TaskTemplate,
    )

    container = ContainerSpec(
        image, command=["python3", RUNNER], user="65534:65534", cap_drop=["ALL"],
        env=[f"ROOST_BUILD={job.build_id}", "ROOST_BUILD_NODE={{.Node.Hostname}}"],
        secrets=[SecretReference(secret[0], secret[1], filename="roost-build", uid="65534",
                                 gid="65534", mode=0o400)],
        configs=[ConfigReference(runner[0], runner[1], filename=RUNNER, uid="0", gid="0",
                                 mode=0o444)])
    resources = tasks.resources(job.resources)
    resources["Limits"]["Pids"] = job.resources.pids
    return TaskTemplate(container, resources=resources,
                        restart_policy=RestartPolicy(condition="none"),
                        placement=Placement(constraints=constraints))


def run(client: Any, image: str, slugs: SlugServer, job: BuildJob, has_cache: bool,
        on_output: Callable[[str], None], constraints: tuple[str, ...] = ()) -> int:
    """Run ``job`` as a swarm task; its output to ``on_output``; its exit status."""
    name = f"roost-build-{job.app}-{job.build_id}"[:63]
    secret = client.secrets.create(name=name, data=json.dumps(payload(slugs, job, has_cache))
                                   .encode(), labels={"roost.build": job.app})
    service = None
    try:
        where, why = placement(client, constraints)
        if why:
            on_output(why)
        spec = template(image, tasks.shipped_config(client, "buildrunner.py",
                                                     "roost-buildrunner"), (secret.id, name), job,
                        where)
        labels = {"roost.build": job.app, "roost.once": "1", "roost.build.id": job.build_id}
        service = tasks.create(client, spec, name, labels, 1, once=True)
        deadline = time.monotonic() + job.timeout
        code = TIMED_OUT
        for item in oneoff.follow(client, service, lambda: None, deadline):
            if isinstance(item, int):
                code = item
            else:
                on_output(item)
        service = None  # follow removed it
        return code
    finally:
        if service is not None:
            service.remove()
        _remove_secret(client, secret)


def _remove_secret(client: Any, secret: Any) -> None:
    # The task may take a moment to be gone after its service is removed.
    deadline = time.monotonic() + 30
    while True:
        try:
            secret.remove()
            return
        except Exception:
            if time.monotonic() > deadline:
                return
            time.sleep(0.5)


class SwarmBuilds:
    """Builds as swarm tasks, for the deploy pipeline (``runtime``: the SwarmRuntime)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    @swarm_call
    def build(self, job: BuildJob, on_output: Callable[[str], None]) -> int:
        """Run the build as a one-off task on a worker node; its exit status."""
        rt = self.runtime
        assert rt.setup is not None, "the swarm runtime is not started"
        return run(rt.client, rt.setup.image, rt.slugs, job,
                          rt.store.exists(job.cache_key), on_output, rt.setup.constraints)

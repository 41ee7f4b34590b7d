"""Swarm restart benchmark: hot_restart.py's load across 20 deploys on a 2-node swarm.

A real two-node swarm (tests/swarm/cluster.py: two dockerd in network namespaces) and a real
`roost up` with ROOST_RUNTIME=swarm; the app (tests/swarm/app) runs web=2, one task per
node. The load of bench/hot_restart.py (keep-alive GETs, fresh connections, 8 KiB POSTs,
300 ms GETs, open loop, from its own process) goes to Roost's router on the manager node
while the app is released DEPLOYS times (`roost config set`, each a new release through
the swarm runtime's deploy: new tasks beside the old, health-checked, old ones retired).

Peer, in the same run: the same app as a plain swarm service published through the routing
mesh (ingress, virtual IP), updated DEPLOYS times with ``--update-order start-first``, under
the same load. Targets: Roost 0 failed, p99 during deploys <= 1.5x steady; the peer's
failures counted. ``LOAD_SCALE=0.25`` offers a quarter of the load (a busy machine).
The engines run with the CPU weight the docker-node recipe gives them (ENGINE_CPU_WEIGHT):
on this machine both nodes, the control plane and the load share two CPUs.
Run as root (it makes network namespaces): ``python -m bench.swarm_restart``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import hot_restart
from bench.hot_restart import Run, Sample, report
from roost.hosts.recipebook import ENGINE_CPU_WEIGHT
from tests.conftest import free_port
from tests.e2e.conftest import Server, home_for, start_server, stop_server
from tests.swarm.cluster import Cluster, why_not

DEPLOYS = int(os.environ.get("DEPLOYS", "20"))
APP = Path(__file__).resolve().parent.parent / "tests" / "swarm" / "app"
NAME = "bench"
MESH_PORT = 30080
LOAD_SCALE = float(os.environ.get("LOAD_SCALE", "1"))  # < 1 on a machine too busy for it


def load_process(host: str, base: str, stop: Any, out: Any) -> None:
    """hot_restart's load generator, naming ``host`` in the Host header."""
    hot_restart.HOST = host
    hot_restart.RATES = {k: v * LOAD_SCALE for k, v in hot_restart.RATES.items()}
    hot_restart.load_process(base, stop, out)


def under_load(host: str, base: str, deploy: Any) -> Run:
    """Steady load, DEPLOYS calls of ``deploy(i)`` (each a swap), steady load again."""
    run = Run()
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    loader = ctx.Process(target=load_process, args=(host, base, stop, send))
    loader.start()
    time.sleep(hot_restart.STEADY_BEFORE)
    for i in range(DEPLOYS):
        began = time.monotonic()
        deploy(i)
        ended = time.monotonic()
        run.swaps.append((began, ended))
        run.deploy_seconds.append(ended - began)
    time.sleep(hot_restart.SWAP_TAIL + hot_restart.STEADY_AFTER)
    stop.set()
    run.samples = [Sample(*row) for row in receive.recv()]
    loader.join()
    return run


def roost_run(server: Server, cluster: Cluster) -> Run:
    """Roost: DEPLOYS new releases of the app under load through Roost's router."""
    port = server.env["ROOST_ROUTER_LISTEN"].rpartition(":")[2]

    def deploy(i: int) -> None:
        done = server.roost("config", "set", NAME, f"GREETING=r{i + 2}", timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

    return under_load(f"{NAME}.roost.test", f"http://{cluster.manager.address}:{port}", deploy)


def mesh_run(cluster: Cluster) -> Run | str:
    """The peer: the same tasks as a routing-mesh service, updated start-first."""
    import docker.errors

    client = cluster.manager.client()
    web = next(s for s in client.services.list(filters={"label": f"roost.app={NAME}"})
               if s.attrs["Spec"]["Labels"]["roost.type"] == "web")
    template = web.attrs["Spec"]["TaskTemplate"]
    template["Networks"] = [{"Target": n["Target"]} for n in template.get("Networks", [])]
    from docker.types import EndpointSpec, ServiceMode, UpdateConfig

    try:
        created = client.api.create_service(
            template, name="bench-mesh", mode=ServiceMode("replicated", replicas=2),
            endpoint_spec=EndpointSpec(mode="vip", ports={MESH_PORT: 5000}),
            update_config=UpdateConfig(parallelism=1, order="start-first"))
    except docker.errors.APIError as exc:
        return f"could not create the routing-mesh service: {exc.explanation}"
    service = client.services.get(created["ID"])
    base = f"http://{cluster.manager.address}:{MESH_PORT}"

    def answers() -> bool:
        try:
            return httpx.get(base + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    deadline = time.monotonic() + 60
    while not answers():
        if time.monotonic() > deadline:
            service.remove()
            return ("the routing mesh never answered in 60 s (this kernel has no IP_VS, which "
                    "swarm's ingress load balancer needs: dockerd logs 'Could not get ipvs "
                    "family information from the kernel')")
        time.sleep(0.5)

    def update(i: int) -> None:
        service.reload()
        spec = dict(service.attrs["Spec"])
        spec["TaskTemplate"]["ForceUpdate"] = i + 1
        api = client.api
        api._raise_for_status(api._post_json(
            api._url("/services/{0}/update", service.id), data=spec,
            params={"version": service.attrs["Version"]["Index"]}))
        while True:  # `docker service update` returns when the update converged
            service.reload()
            if (service.attrs.get("UpdateStatus") or {}).get("State") == "completed":
                return
            time.sleep(0.2)

    try:
        return under_load("mesh", base, update)
    finally:
        service.remove()


def main() -> None:
    """Start the swarm and Roost, run both, print the figures."""
    reason = why_not()
    if reason:
        raise SystemExit(f"swarm_restart: {reason}")
    # The nodes as the docker-node recipe sets them up: the engines behind the apps for CPU.
    cluster = Cluster(engine_weight=ENGINE_CPU_WEIGHT)
    root = Path(tempfile.mkdtemp(prefix="rsw", dir="/tmp"))
    tmp = Path(tempfile.mkdtemp(prefix="roost-bench-swarm-"))
    server: Server | None = None
    try:
        cluster.start(root)
        server = start_server(tmp, {
            "ROOST_RUNTIME": "swarm", "DOCKER_HOST": cluster.manager.socket,
            "ROOST_SWARM_SLUG_LISTEN": f"{cluster.host_address}:{free_port()}",
            "ROOST_ROUTER_LISTEN": f"{cluster.manager.address}:{free_port()}",
            "ROOST_MAIL_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
            "ROOST_BASE_DOMAIN": "roost.test", "ROOST_GRACE_SECONDS": "10"}, timeout=180)
        for args in (("apps", "create", NAME), ("config", "set", NAME, "GREETING=r1"),
                     ("deploy", NAME, str(APP)), ("scale", NAME, "web=2")):
            done = server.roost(*args, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
        rate = sum(hot_restart.RATES.values()) * LOAD_SCALE
        print(f"swarm_restart: 2 nodes, web=2, {DEPLOYS} deploys each, {rate:.0f} requests/s "
              f"offered; machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        roost = roost_run(server, cluster)
        report("roost swarm runtime (Caddy -> task addresses)", roost, target=1.5)
        if os.environ.get("SAMPLES_OUT"):  # every request and swap, to look at the slow ones
            Path(os.environ["SAMPLES_OUT"]).write_text(json.dumps(
                {"swaps": roost.swaps, "samples": [vars(s) for s in roost.samples]}))
        peer = mesh_run(cluster)
        if isinstance(peer, str):
            print(f"peer (docker service update --update-order start-first, routing mesh): "
                  f"not measured: {peer}")
        else:
            report("peer: docker service update --update-order start-first (routing mesh)",
                   peer)
    finally:
        if server is not None:
            stop_server(server)
            shutil.rmtree(home_for(tmp).parent, ignore_errors=True)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

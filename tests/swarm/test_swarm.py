"""ROOST_RUNTIME=swarm end to end: the real CLI, a real `roost up`, a real two-node swarm.

The app (tests/swarm/app) is a stdlib HTTP server answering ``GREETING vN web.K``; requests
go to the Caddy router that Roost runs as a global service, on each node's address.
"""

from __future__ import annotations

import json
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import pytest

from roost.runtime.swarm.nodeimages import LABEL
from tests.conftest import free_port, https_get, stale_connection
from tests.e2e.conftest import Server
from tests.hosts.sshhosts import TestHost, usable
from tests.objectstore.conftest import moto_endpoint  # noqa: F401
from tests.swarm.cluster import Cluster, Node, wait_until
from tests.swarm.conftest import APP

NAME = "sw"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUILDPACK = Path(__file__).parent / "buildpack"
pytestmark = pytest.mark.xdist_group("swarm")  # one cluster with --dist loadgroup


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def router_port(server: Server) -> str:
    return server.env["ROOST_ROUTER_LISTEN"].rpartition(":")[2]


def get(server: Server, address: str, client: httpx.Client | None = None) -> httpx.Response:
    url = f"http://{address}:{router_port(server)}/"
    headers = {"Host": f"{NAME}.roost.test"}
    if client is not None:
        return client.get(url, headers=headers)
    return httpx.get(url, headers=headers, timeout=10)


def answers(server: Server, address: str) -> bool:
    """Whether the app answers 200 through the router on ``address``."""
    try:
        return get(server, address).status_code == 200
    except httpx.HTTPError:
        return False


def ps(server: Server) -> list[dict[str, object]]:
    return list(json.loads(ok(server.roost("ps", NAME, "--json")).stdout))


def web_up(server: Server) -> list[dict[str, object]]:
    return [p for p in ps(server) if p["type"] == "web" and p["state"] == "up"]


@dataclass
class Load:
    """Requests through both routers, keep-alive and fresh connections, until stopped."""

    done: int = 0
    resent: int = 0  # requests met by a kept-alive connection a reloading router closed
    failures: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


@contextmanager
def load(server: Server, addresses: list[str]) -> Iterator[Load]:
    state = Load()

    def worker(address: str, keepalive: bool) -> None:
        client = httpx.Client(timeout=15) if keepalive else None
        while not state.stop.is_set():
            kind = "keep-alive" if client else "fresh"
            try:
                try:
                    response = get(server, address, client)
                except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                    if client is None or not stale_connection(exc):
                        raise
                    state.resent += 1
                    response = get(server, address, client)
                if response.status_code != 200:
                    state.failures.append(f"{address} {kind}: {response.status_code} "
                                          f"{response.text}")
                else:
                    state.answers.append(response.text)
            except httpx.HTTPError as exc:
                state.failures.append(f"{address} {kind}: {exc!r}")
            state.done += 1

    threads = [threading.Thread(target=worker, args=(a, k), daemon=True)
               for a in addresses for k in (True, False)]
    for thread in threads:
        thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        for thread in threads:
            thread.join(timeout=30)


@pytest.fixture(scope="module")
def deployed(swarm_server: Server, cluster: Cluster) -> str:
    """The app created, given config vars and deployed once, with both nodes able to take
    its tasks (Roost loads its images onto the worker in the background from its start,
    and a node takes no task, nor runs the router, until then); the deploy's output."""
    wait_until(lambda: worker_state(cluster, cluster.nodes[1]) == ("ready", "active", True),
               timeout=180)
    ok(swarm_server.roost("apps", "create", NAME))
    ok(swarm_server.roost("config", "set", NAME, "GREETING=hi", "SECRET_TOKEN=s3cr3t-value"))
    return ok(swarm_server.roost("deploy", NAME, str(APP), timeout=300)).stdout


def test_deploy_serves_on_both_nodes_with_ps_logs_run_and_limits(
        swarm_server: Server, cluster: Cluster, deployed: str) -> None:
    srv = swarm_server
    assert "Released v1" in deployed
    for node in cluster.nodes:  # each node's router reaches the task, wherever it runs
        assert get(srv, node.address).text == "hi v1 web.1\n"

    # The worker had no images: Roost loads them through its engine, then labels it.
    from roost.runtime.swarm.images import STACK_IMAGE, has_image
    from roost.runtime.swarm.nodeimages import LABEL

    manager = cluster.manager.client()
    wait_until(lambda: all(LABEL in (n.attrs["Spec"].get("Labels") or {})
                           for n in manager.nodes.list()), timeout=300)
    assert has_image(cluster.nodes[1].client(), STACK_IMAGE)
    ok(srv.roost("scale", NAME, "web=2"))
    wait_until(lambda: len(web_up(srv)) == 2)
    nodes = {str(p["node"]) for p in web_up(srv)}
    assert nodes == {n.hostname for n in cluster.nodes}  # spread over both nodes
    assert "NODE" in ok(srv.roost("ps", NAME)).stdout
    wait_until(lambda: "web.2: listening on 5000" in ok(srv.roost("logs", NAME)).stdout)

    run = ok(srv.roost("run", NAME, "--", "python3", "-c",
                       "import os; print('greeting', os.environ['GREETING'])"))
    assert "greeting hi" in run.stdout
    assert srv.roost("run", NAME, "--", "sh", "-c", "exit 3").returncode == 3

    # Config vars travel in a docker secret: `docker inspect` does not show them.
    inspected = json.dumps([s.attrs for s in manager.services.list()])
    assert "s3cr3t-value" not in inspected and NAME in inspected

    ok(srv.roost("limits", "set", NAME, "web", "memory=256M"))
    web = [s for s in manager.services.list(filters={"label": f"roost.app={NAME}"})
           if s.attrs["Spec"]["Labels"]["roost.type"] == "web"]
    assert [s.attrs["Spec"]["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"]
            for s in web] == [256 * 1024 ** 2]
    assert get(srv, cluster.manager.address).text.startswith("hi v1 web.")


def test_redeploys_restart_and_rollback_under_load_drop_nothing(
        swarm_server: Server, cluster: Cluster, deployed: str) -> None:
    srv = swarm_server
    with load(srv, [n.address for n in cluster.nodes]) as running:
        wait_until(lambda: running.done > 20)
        ok(srv.roost("config", "set", NAME, "GREETING=howdy", timeout=300))
        ok(srv.roost("restart", NAME, "web", timeout=300))
        ok(srv.roost("rollback", NAME, timeout=300))
        wait_until(lambda: running.answers[-1].startswith("hi v3"))
    assert running.failures == []
    assert running.done > 100
    assert any(a.startswith("howdy v2") for a in running.answers)


def via(server: Server, host: str, address: str) -> httpx.Response | None:
    """The router's answer on ``address`` for ``host`` (None when the connection failed)."""
    try:
        return httpx.get(f"http://{address}:{router_port(server)}/", headers={"Host": host},
                         timeout=10)
    except httpx.HTTPError:
        return None


def serves(server: Server, host: str, address: str) -> bool:
    found = via(server, host, address)
    return found is not None and found.status_code == 200 and found.text.startswith("hi v")


def test_a_custom_domain_is_routed_on_every_node_without_dropping_a_request(
        swarm_server: Server, cluster: Cluster, deployed: str) -> None:
    srv, domain = swarm_server, "www.sw-shop.example"
    manager, worker = cluster.manager.address, cluster.nodes[1].address
    assert not serves(srv, domain, manager)
    with load(srv, [manager, worker]) as state:
        ok(srv.roost("domains", "add", NAME, domain))
        wait_until(lambda: serves(srv, domain, manager) and serves(srv, "WWW.SW-SHOP.example",
                                                                  worker))
        sent = state.done
        wait_until(lambda: state.done > sent + 20)  # the old tasks have drained meanwhile
    assert not state.failures, state.failures[:5]
    assert domain in ok(srv.roost("domains", NAME)).stdout
    other = via(srv, "www.not-ours.example", manager)
    assert other is None or other.status_code != 200

    ok(srv.roost("domains", "remove", NAME, domain))
    wait_until(lambda: not serves(srv, domain, manager) and not serves(srv, domain, worker))
    assert answers(srv, manager) and answers(srv, worker)


def test_a_custom_domain_is_served_over_https_on_every_node(
        swarm_server: Server, cluster: Cluster, deployed: str) -> None:
    """The certificate is issued once, on the control plane, and every node's router serves
    it (they pull it); a name Roost does not route gets none; removing the domain takes its
    certificate off the routers."""
    srv, domain = swarm_server, "secure.sw-shop.example"
    nodes = [cluster.manager.address, cluster.nodes[1].address]
    port = int(srv.env["ROOST_ROUTER_TLS_LISTEN"].rpartition(":")[2])
    root = srv.home / "swarm-certs" / "storage" / "pki" / "authorities" / "local" / "root.crt"

    def secure(address: str) -> bool:
        try:
            status, body, cert = https_get(address, port, domain, root)
        except OSError:  # ssl.SSLError included: no certificate for the name (yet)
            return False
        assert ("DNS", domain) in cert["subjectAltName"]
        return status == 200 and body.startswith("hi v")

    ok(srv.roost("domains", "add", NAME, domain))
    wait_until(lambda: root.exists() and all(secure(a) for a in nodes), timeout=120)
    assert "valid until" in ok(srv.roost("domains", NAME)).stdout
    # The issuer runs as the router's user, not as root (Roost is root here).
    issuer = srv.home / "swarm-certs" / "boot.json"
    assert {owner(pid) for pid in processes_with(str(issuer))} == {"roost-router"}
    with pytest.raises(OSError):
        https_get(nodes[0], port, "www.not-ours.example", root)

    ok(srv.roost("domains", "remove", NAME, domain))
    wait_until(lambda: not any(secure(a) for a in nodes), timeout=60)


def processes_with(argument: str) -> list[int]:
    """The processes whose command line has ``argument``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and argument.encode() in \
                    (entry / "cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return found


def owner(pid: int) -> str:
    """The user name a process runs as."""
    return pwd.getpwuid(Path(f"/proc/{pid}").stat().st_uid).pw_name


@contextmanager
def wheel_server(directory: str, address: str) -> Iterator[str]:
    """``directory`` served over HTTP on ``address`` (where build tasks can reach it)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", address,
                             "--directory", directory, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail("the wheel server exited")
        try:
            return httpx.get(f"http://{address}:{port}/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up)
        yield f"http://{address}:{port}/"
    finally:
        proc.terminate()
        proc.wait(10)


PROBE = """
import socket, sys
seen = []
for name in ("roost-web-py", "roost-web-sw"):
    try:
        socket.getaddrinfo(name, 5000)
        seen.append(name + ":found")
    except OSError:
        seen.append(name + ":unknown")
for address in sys.argv[1:]:
    try:
        socket.create_connection((address, 5000), timeout=3).close()
        seen.append(address + ":open")
    except OSError:
        seen.append(address + ":closed")
print(" ".join(seen))
"""


def task_addresses(cluster: Cluster, app: str) -> list[str]:
    """The overlay addresses of ``app``'s running web tasks."""
    found = []
    for service in cluster.manager.client().services.list(
            filters={"label": [f"roost.app={app}", "roost.type=web"]}):
        for task in service.tasks(filters={"desired-state": "running"}):
            for attached in task.get("NetworksAttachments") or []:
                found += [a.split("/")[0] for a in attached.get("Addresses") or []]
    return found


def test_the_python_example_builds_and_serves_on_the_swarm(
        swarm_server: Server, cluster: Cluster, wheelhouse: dict[str, str],
        deployed: str, moto_endpoint: str) -> None:  # noqa: F811
    """The quick start's app, with the built-in Python buildpack, in the stack image:
    gunicorn installed by pip in a build task, bound to $HOST:$PORT in the app's tasks,
    its static files published to S3 and linked through the manifest its tasks are given.
    Its tasks are on a network of its own: they cannot reach another app's tasks."""
    srv = swarm_server
    with wheel_server(wheelhouse["PIP_FIND_LINKS"], cluster.host_address) as index:
        ok(srv.roost("apps", "create", "py"))
        ok(srv.roost("config", "set", "py", "PIP_NO_INDEX=1", f"PIP_FIND_LINKS={index}",
                     f"PIP_TRUSTED_HOST={cluster.host_address}"))
        out = ok(srv.roost("deploy", "py", str(EXAMPLES / "python-app"), timeout=600)).stdout
    assert "Installing dependencies with pip" in out and "Python environment ready" in out
    for address in (cluster.manager.address, cluster.nodes[1].address):
        page = httpx.get(f"http://{address}:{router_port(srv)}/",
                         headers={"Host": "py.roost.test"}, timeout=10)
        assert page.status_code == 200 and "Hello from Roost" in page.text, page.text
        assert "Release v1" in page.text
    assert "published 2 new and 0 unchanged assets from static/" in out, out
    css = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert css is not None and css[1].startswith(f"{moto_endpoint}/"), page.text
    bucket, _, key = css[1].removeprefix(f"{moto_endpoint}/").partition("/")
    published = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing"
                             ).get_object(Bucket=bucket, Key=key)["Body"].read()
    assert published == (EXAMPLES / "python-app" / "static" / "app.css").read_bytes()

    others = task_addresses(cluster, NAME)
    assert others
    out = ok(srv.roost("run", "py", "--", f"python3 -c {shlex.quote(PROBE)} "
                       + " ".join(others))).stdout
    seen = next(line for line in out.splitlines() if "roost-web-py:" in line).split()
    assert seen == ["roost-web-py:found", "roost-web-sw:unknown",
                    *(f"{a}:closed" for a in others)], seen
    ok(srv.roost("apps", "destroy", "py", "--confirm", "py"))


def test_the_node_example_builds_and_serves_on_the_swarm(
        swarm_server: Server, cluster: Cluster, deployed: str) -> None:
    """The Node.js example, with the built-in Node.js buildpack: npm (from the stack image)
    in a build task, then `node server.js` in the app's tasks, serving on every node."""
    srv = swarm_server
    ok(srv.roost("apps", "create", "nd"))
    out = ok(srv.roost("deploy", "nd", str(EXAMPLES / "node-app"), timeout=600)).stdout
    assert "Using node v18." in out and "node_modules ready" in out, out
    for address in (cluster.manager.address, cluster.nodes[1].address):
        health = httpx.get(f"http://{address}:{router_port(srv)}/health",
                           headers={"Host": "nd.roost.test"}, timeout=10)
        assert health.status_code == 200 and health.json() == {"status": "ok"}, health.text
        css = httpx.get(f"http://{address}:{router_port(srv)}/app.css",
                        headers={"Host": "nd.roost.test"}, timeout=10)
        assert css.content == (EXAMPLES / "node-app" / "public" / "app.css").read_bytes()
        page = httpx.get(f"http://{address}:{router_port(srv)}/",
                         headers={"Host": "nd.roost.test"}, timeout=10)
        assert "Hello from Roost (Node.js)" in page.text, page.text
    procs = json.loads(ok(srv.roost("ps", "nd", "--json")).stdout)
    assert [(p["type"], p["state"]) for p in procs] == [("web", "up")], procs
    ok(srv.roost("apps", "destroy", "nd", "--confirm", "nd"))


def test_builds_run_as_tasks_on_the_worker_as_nobody_with_a_cache(
        swarm_server: Server, cluster: Cluster, tmp_path: Path) -> None:
    srv, worker = swarm_server, cluster.nodes[1]
    source = tmp_path / "bt"
    shutil.copytree(APP, source)
    (source / ".buildpacks").write_text(f"{BUILDPACK}\n")  # records who built the slug
    ok(srv.roost("apps", "create", "bt"))

    # A failing build: its own output and reason come back, and nothing is released.
    ok(srv.roost("config", "set", "bt", "FAIL_BUILD=yes"))  # reaches bin/compile's ENV_DIR
    failed = srv.roost("deploy", "bt", str(source), timeout=300)
    assert failed.returncode != 0
    said = failed.stdout + failed.stderr
    assert "failing as asked by FAIL_BUILD" in said and "failed at compile" in said, said
    assert ok(srv.roost("ps", "bt", "--json")).stdout.strip() == "[]"

    ok(srv.roost("config", "unset", "bt", "FAIL_BUILD"))
    # Until Roost has loaded its images onto the worker (it does so in the background from
    # its start), the build says so and goes to the manager (below); here it should not.
    wait_until(lambda: worker_state(cluster, worker) == ("ready", "active", True), timeout=180)
    out = ok(srv.roost("deploy", "bt", str(source), timeout=300)).stdout
    assert f"Building on node {worker.hostname} (task " in out and "as uid 65534" in out, out
    assert "No worker can take the build" not in out
    # The slug holds what the task made: built by nobody in a container, not on this host.
    uid, host, cache = ok(srv.roost("run", "bt", "--", "cat", "built-by.txt")).stdout.split()
    assert (uid, cache) == ("65534", "cache=1") and host != socket.gethostname()
    assert f"(task {host})" in out
    response = httpx.get(f"http://{cluster.manager.address}:{router_port(srv)}/",
                         headers={"Host": "bt.roost.test"}, timeout=10)
    assert response.text == "hello v1 web.1\n"

    # The next build starts from the cache the last one left in the object store.
    out = ok(srv.roost("deploy", "bt", str(source), timeout=300)).stdout
    assert "cache=2" in out, out

    # With no worker able to take it, the build says why and runs on a manager, still as
    # nobody.
    set_availability(cluster, worker, "drain")
    try:
        out = ok(srv.roost("deploy", "bt", str(source), timeout=300)).stdout
    finally:
        set_availability(cluster, worker, "active")
    assert f"No worker can take the build ({worker.hostname}: drain): building on a manager" \
        in out, out
    assert f"Building on node {cluster.manager.hostname} (task " in out and "as uid 65534" in out
    ok(srv.roost("apps", "destroy", "bt", "--confirm", "bt"))


def worker_state(cluster: Cluster, node: Node) -> tuple[str, str, bool]:
    """The swarm's view of ``node``: its state, its availability and whether Roost has
    labelled it as holding its images."""
    found = next(n for n in cluster.manager.client().nodes.list()
                 if n.attrs["Description"]["Hostname"] == node.hostname)
    return (found.attrs["Status"]["State"], found.attrs["Spec"]["Availability"],
            LABEL in (found.attrs["Spec"].get("Labels") or {}))


def set_availability(cluster: Cluster, node: Node, availability: str) -> None:
    """``docker node update --availability AVAILABILITY`` for ``node``, read again and sent
    again while the swarm refuses it as out of sequence (the node changed meanwhile)."""
    import docker.errors

    for attempt in range(10):
        found = next(n for n in cluster.manager.client().nodes.list()
                     if n.attrs["Description"]["Hostname"] == node.hostname)
        try:
            found.update({**found.attrs["Spec"], "Availability": availability})
            return
        except docker.errors.APIError as exc:
            if "out of sequence" not in str(exc) or attempt == 9:
                raise


def join_by_recipe(srv: Server, cluster: Cluster, late: Node, tmp_path: Path) -> None:
    """Join ``late`` as a user would: `roost hosts add` it over SSH with the docker-node
    role, then `roost hosts apply`; the recipe joins it with the token Roost reads from
    the manager. Then `roost hosts roles` promotes it to a manager and back."""
    why = usable()
    if why:
        pytest.fail(why)  # swarm tests run as root, where test hosts always can
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    host = TestHost(netns=late.netns, address=late.address,
                    docker_socket=str(late.root / "d.sock"))
    host.start(key.with_suffix(".pub").read_text().strip())
    try:
        ok(srv.roost("hosts", "add", "late", f"ssh://root@{late.address}", "--key", str(key),
                     "--yes", "--role", "docker-node"))
        token = cluster.manager.client().swarm.attrs["JoinTokens"]["Worker"]
        planned = ok(srv.roost("hosts", "plan", "late", "--json"))
        ops = json.loads(planned.stdout)["hosts"]["late"]["operations"]
        join = [o for o in ops if o["name"] == f"Join the swarm at {cluster.manager.address}:2377"]
        assert join and join[0]["will_change"] is True, ops
        applied = ok(srv.roost("hosts", "apply", "late"))
        assert "late: ok" in applied.stdout
        log = ok(srv.roost("hosts", "log", "--json"))
        for text in (planned.stdout, applied.stdout, applied.stderr, log.stdout):
            assert token not in text, "the join token leaked into output"
        assert late.client().info()["Swarm"]["LocalNodeState"] == "active"
        again = json.loads(ok(srv.roost("hosts", "plan", "late", "--json")).stdout)
        assert not any(o["name"].startswith("Join the swarm")
                       for o in again["hosts"]["late"]["operations"])
        # Given the manager role, the node is promoted from the manager; given the worker's
        # role back, demoted (before it leaves: two managers need both for a quorum).
        for role, op, manager in (
                ("docker-manager", "Promote to a swarm manager (docker node promote)", True),
                ("docker-node", "Demote to a swarm worker (docker node demote)", False)):
            ok(srv.roost("hosts", "roles", "late", role))
            planned = ok(srv.roost("hosts", "plan", "late", "--json"))
            ops = json.loads(planned.stdout)["hosts"]["late"]["operations"]
            assert [o["will_change"] for o in ops if o["name"] == op] == [True], ops
            assert "late: ok" in ok(srv.roost("hosts", "apply", "late")).stdout
            wait_until(lambda m=manager: late.client().info()["Swarm"].get(  # type: ignore
                "ControlAvailable", False) is m, timeout=120)
            ops = json.loads(ok(srv.roost("hosts", "plan", "late", "--json")).stdout)[
                "hosts"]["late"]["operations"]
            assert not any(o["name"] == op for o in ops), ops
    finally:
        host.destroy()
    ok(srv.roost("hosts", "remove", "late"))


def test_a_host_added_with_the_docker_node_role_joins_gets_the_images_and_serves(
        swarm_server: Server, cluster: Cluster, deployed: str, tmp_path: Path) -> None:
    from roost.runtime.swarm.images import STACK_IMAGE, has_image

    srv, manager = swarm_server, cluster.manager.client()
    late = cluster.add_node("late")
    engine = late.client()
    assert not has_image(engine, STACK_IMAGE)
    join_by_recipe(srv, cluster, late, tmp_path)
    # Roost loads the images through the node's own engine, then labels the node; only then
    # does the router (a global service) start there, and the app answer on its address.
    wait_until(lambda: has_image(engine, STACK_IMAGE), timeout=120)
    wait_until(lambda: answers(srv, late.address), timeout=120)
    assert get(srv, late.address).text.startswith("hi v")
    assert not any(t["Status"]["State"] == "rejected" for s in manager.services.list()
                   for t in s.tasks()), "a task was placed on a node without the images"
    engine.swarm.leave(force=True)  # the next test counts on two nodes
    late.stop()
    wait_until(lambda: any(n.attrs["Status"]["State"] == "down" for n in manager.nodes.list()
                           if n.attrs["Description"]["Hostname"] == late.hostname))
    for node in manager.nodes.list():
        if node.attrs["Description"]["Hostname"] == late.hostname:
            node.remove(force=True)


def test_task_death_node_leave_and_manager_outage(swarm_server: Server, cluster: Cluster,
                                                   deployed: str) -> None:
    srv = swarm_server
    worker = cluster.nodes[1]
    # Swarm spreads a new generation's two tasks over the nodes that can take one; it never
    # moves running tasks back to a node that was away or drained (an earlier test drains
    # the worker), so the restart places them afresh.
    wait_until(lambda: worker_state(cluster, worker) == ("ready", "active", True), timeout=180)
    ok(srv.roost("scale", NAME, "web=2"))
    ok(srv.roost("restart", NAME, "web", timeout=300))
    wait_until(lambda: len(web_up(srv)) == 2)

    # A task that dies is replaced; meanwhile the router sends to the live one.
    up = web_up(srv)
    victim = next((p for p in up if p["node"] == worker.hostname), None)
    assert victim is not None, (up, ok(srv.roost("ps", NAME)).stdout)
    services = cluster.manager.client().services.list(
        filters={"label": [f"roost.app={NAME}", "roost.type=web"]})
    web = max(services, key=lambda s: int(s.attrs["Spec"]["Labels"]["roost.gen"]))
    killed = worker.client().containers.list(
        filters={"label": f"com.docker.swarm.service.id={web.id}"})
    assert len(killed) == 1
    killed[0].kill()
    wait_until(lambda: any(p["number"] == victim["number"] and int(str(p["restarts"])) >= 1
                           for p in web_up(srv)) and len(web_up(srv)) == 2)
    for _ in range(10):
        assert get(srv, cluster.manager.address).status_code == 200

    # A node that leaves: nothing fails meanwhile (the router retries another task), and
    # after 10 s the router no longer tries the departed node's tasks (answers are fast).
    worker.stop()
    start = time.monotonic()
    late: list[float] = []
    while time.monotonic() - start < 15:
        sent = time.monotonic()
        assert get(srv, cluster.manager.address).status_code == 200
        if sent - start > 10:
            late.append(time.monotonic() - sent)
    assert late and max(late) < 1.0, late
    wait_until(lambda: {p["node"] for p in web_up(srv)} == {cluster.manager.hostname}
               and len(web_up(srv)) == 2, timeout=90)

    # The manager is down: one line with the swarm's error, no traceback.
    cluster.manager.stop()
    result = srv.roost("ps", NAME)
    assert result.returncode != 0
    message = (result.stderr + result.stdout).strip()
    assert "swarm manager" in message and len(message.splitlines()) == 1, message

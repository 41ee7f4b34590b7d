"""A real two-node Docker swarm for tests and benchmarks, each node in its own network namespace.

Each node is a ``dockerd`` (Debian's docker.io) started inside a network namespace made here,
with private data, exec and socket directories; the namespaces hang off one bridge with a
/24 of 10.213.K.0 made here too (host side .1, manager .2, worker .3). Everything a node does
to networking (its bridges, iptables rules, overlay VXLAN) stays inside its namespace; the
only traffic is between addresses of that /24.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import wait_for


def why_not() -> str | None:
    """Why a swarm cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "swarm tests start dockerd in network namespaces and need root"
    for tool in ("dockerd", "ip", "containerd", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is missing: run scripts/ensure-docker.sh (Debian docker.io)"
    from roost.runtime.swarm.images import STACK_TARBALL

    if not STACK_TARBALL.is_file():
        return f"no stack tarball at {STACK_TARBALL}: run scripts/ensure-docker.sh"
    return None


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, raising with its output when it fails."""
    result = subprocess.run(args, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


@dataclass
class Node:
    """One dockerd in its namespace."""

    name: str
    netns: str
    address: str
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    cgroup: Path | None = None  # cgroup.procs of the CPU cgroup the engine runs in

    @property
    def hostname(self) -> str:
        """The node's host name (what `roost ps` shows)."""
        return f"{self.name}-{self.netns.removeprefix('roost-sw')[:-1]}"

    @property
    def socket(self) -> str:
        """DOCKER_HOST of this node."""
        return f"unix://{self.root}/d.sock"

    def client(self) -> Any:
        """A Docker SDK client of this node."""
        import docker

        return docker.DockerClient(base_url=self.socket, timeout=120)

    def start(self) -> None:
        """Start dockerd in the namespace and wait for its API."""
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            # Its own host name (a UTS namespace) so `roost ps` tells the nodes apart; only
            # the network namespace otherwise (`ip netns exec` would hide the cgroup mounts).
            # In `cgroup` when given (containerd and the shims with it; runc puts each
            # container in a cgroup of its own).
            ["unshare", "--uts", "--", "nsenter", f"--net=/run/netns/{self.netns}", "sh", "-c",
             'cg=$1; shift; { [ -z "$cg" ] || echo $$ > "$cg"; } && hostname "$0" && '
             'exec dockerd "$@"', self.hostname, str(self.cgroup or ""),
             "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "x"),
             "--pidfile", str(self.root / "pid"), "-H", self.socket,
             "--storage-driver", "overlay2"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            # Run local images without asking a registry first (there is none here).
            env={**os.environ, "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"})

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd of {self.name} exited: "
                                   f"{(self.root / 'dockerd.log').read_text()[-2000:]}")
            try:
                return bool(self.client().ping())
            except Exception:
                return False

        wait_for(up, timeout=60, interval=0.2)

    def stop(self) -> None:
        """Stop dockerd (SIGTERM, then SIGKILL) and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class Cluster:
    """A manager and a worker joined into one swarm, with Roost's images on both."""

    k: int = field(default_factory=lambda: 100 + os.getpid() % 100)
    nodes: list[Node] = field(default_factory=list)
    root: Path = Path("/nonexistent")
    # The engines' CPU weight (systemd's scale, 100 the default): 0 leaves them where this
    # process is; the docker-node recipe gives nodes recipebook.ENGINE_CPU_WEIGHT.
    engine_weight: int = 0

    @property
    def engine_group(self) -> str:
        """The name of the CPU cgroup the engines run in (with ``engine_weight``)."""
        return f"roost-sw{self.k}-engines"

    @property
    def bridge(self) -> str:
        """The host-side bridge of the namespaces."""
        return f"rswbr{self.k}"

    @property
    def host_address(self) -> str:
        """This host's address on the bridge (where tasks reach Roost's slug server)."""
        return f"10.213.{self.k}.1"

    @property
    def manager(self) -> Node:
        """The swarm manager."""
        return self.nodes[0]

    def start(self, root: Path, preload_workers: bool = True) -> None:
        """Make the namespaces, start both engines, form the swarm and load the images onto
        the manager and (``preload_workers``) the other nodes; else Roost loads them there
        (ROOST_SWARM_NODE_DOCKER). On the manager `roost up` would import them too, but a
        220 MB import on a busy machine outlasts the test's wait for the API."""
        self.stop_leftovers()
        self.root = Path(root)
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.host_address}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for name in ("manager", "worker"):
            self.add_node(name)
        self.form()
        from roost.runtime.swarm.images import load_everywhere

        load_everywhere([n.client() for n in (self.nodes if preload_workers else self.nodes[:1])])

    def add_node(self, name: str) -> Node:
        """Start one more engine (not yet in the swarm) in a namespace of its own."""
        i = len(self.nodes)
        netns = f"roost-sw{self.k}{name[0]}"
        veth = f"rsw{self.k}{name[0]}"
        sh("ip", "netns", "add", netns)
        sh("ip", "-n", netns, "link", "set", "lo", "up")
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "link", "set", veth, "master", self.bridge, "up")
        address = f"10.213.{self.k}.{2 + i}"
        sh("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "route", "add", "default", "via", self.host_address)
        node = Node(name, netns, address, self.root / name[0],
                    cgroup=cpu_cgroup(self.engine_group, self.engine_weight)
                    if self.engine_weight else None)
        self.nodes.append(node)
        node.start()
        # Each engine by host name, for ROOST_SWARM_NODE_DOCKER (``node_docker``).
        (self.root / f"{node.hostname}.sock").symlink_to(node.root / "d.sock")
        return node

    @property
    def node_docker(self) -> str:
        """ROOST_SWARM_NODE_DOCKER for these nodes: each engine's socket by host name."""
        return f"unix://{self.root}/{{hostname}}.sock"

    def form(self) -> None:
        """Init the swarm on the manager and join the worker."""
        manager = self.manager.client()
        # Nodes report every second, so a departed node is noticed in seconds.
        manager.swarm.init(advertise_addr=self.manager.address,
                           listen_addr=f"{self.manager.address}:2377",
                           dispatcher_heartbeat_period=1_000_000_000,
                           task_history_retention_limit=5)
        for node in self.nodes[1:]:
            self.join(node)

    def join(self, node: Node) -> None:
        """Join ``node`` to the swarm as a worker."""
        token = self.manager.client().swarm.attrs["JoinTokens"]["Worker"]
        node.client().swarm.join(remote_addrs=[f"{self.manager.address}:2377"],
                                 join_token=token, advertise_addr=node.address,
                                 listen_addr=f"{node.address}:2377")

    def ensure_running(self) -> None:
        """Start the manager and the worker again if a test stopped them (an outage test),
        and wait until the swarm has both ready: they keep their swarm state."""
        for node in self.nodes[:2]:
            if node.proc is None or node.proc.poll() is not None:
                node.start()

        def ready() -> bool:
            try:
                states = {n.attrs["Description"]["Hostname"]: n.attrs["Status"]["State"]
                          for n in self.manager.client().nodes.list()}
            except Exception:  # the manager still electing itself leader
                return False
            return all(states.get(node.hostname) == "ready" for node in self.nodes[:2])

        wait_until(ready, timeout=120)

    def stop(self) -> None:
        """Stop the engines and remove the namespaces, bridge and directories."""
        for node in reversed(self.nodes):
            node.stop()
        self.stop_leftovers()
        for node in self.nodes:
            for mount in reversed(Path("/proc/mounts").read_text().splitlines()):
                target = mount.split()[1]
                if target.startswith(str(node.root)):
                    sh("umount", "-l", target, check=False)
            shutil.rmtree(node.root, ignore_errors=True)

    def stop_leftovers(self) -> None:
        """Remove this K's namespaces and bridge, if a crashed run left them."""
        for name in ("m", "w", "l"):
            sh("ip", "netns", "del", f"roost-sw{self.k}{name}", check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        for base in CPU_CGROUP_ROOTS:
            with contextlib.suppress(OSError):  # absent, or a process still in it
                (base / self.engine_group).rmdir()


CPU_CGROUP_ROOTS = (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup"))  # v1, v2


def cpu_cgroup(name: str, weight: int) -> Path:
    """The ``cgroup.procs`` of CPU cgroup ``name`` with ``weight`` (as systemd's CPUWeight
    sets it: cpu.shares on cgroup v1, cpu.weight on v2), made when missing."""
    v1, v2 = CPU_CGROUP_ROOTS
    if (v1 / "cpu.shares").exists():
        group, knob, value = v1 / name, "cpu.shares", max(2, weight * 1024 // 100)
    elif "cpu" in (v2 / "cgroup.subtree_control").read_text().split():
        group, knob, value = v2 / name, "cpu.weight", weight
    else:
        raise RuntimeError("this kernel has no CPU controller to weigh the engines with")
    group.mkdir(exist_ok=True)
    (group / knob).write_text(str(value))
    return group / "cgroup.procs"


def wait_until(cond: Any, timeout: float = 60.0) -> Any:
    """wait_for with the longer intervals swarm state changes need."""
    return wait_for(cond, timeout=timeout, interval=0.25)


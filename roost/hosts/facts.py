"""The facts Roost gathers from a host, as pyinfra facts; imported only in the worker.

pyinfra's own facts give the OS, kernel, CPUs, memory, packages, Docker and the reboot
flag; the few it lacks (disk use, pending security updates, the host's clock, swarm
state, whether systemd runs) are pyinfra facts of our own, so recipes may use them too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pyinfra.api import FactBase
from pyinfra.api.host import Host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.docker import DockerVersion
from pyinfra.facts.hardware import Cpus, Memory
from pyinfra.facts.server import KernelVersion, LinuxDistribution, Os, RebootRequired

# Pseudo and memory file systems are not disks; an overlay root (a container's) is.
NOT_DISKS = ("tmpfs", "devtmpfs", "squashfs", "proc", "sysfs", "devpts", "efivarfs", "nsfs",
             "cgroup", "cgroup2", "ramfs", "autofs", "fuse.lxcfs")


class DiskUsage(FactBase[list[dict[str, Any]]]):
    """Each mounted disk: mount point, size and use (``df -P -k``)."""

    def command(self) -> str:
        """The df command, pseudo file systems left out."""
        excluded = " ".join(f"-x {t}" for t in NOT_DISKS)
        return f"LANG=C df -P -k {excluded} 2>/dev/null || true"

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        """One entry per mount point (the first line is df's header)."""
        disks: list[dict[str, Any]] = []
        seen: set[str] = set()
        for line in output[1:]:
            parts = line.split()
            if len(parts) < 6 or not parts[1].isdigit() or parts[5] in seen:
                continue
            size, used = int(parts[1]) * 1024, int(parts[2]) * 1024
            avail = int(parts[3]) * 1024
            seen.add(parts[5])
            percent = round(100 * used / (used + avail), 1) if used + avail else 0.0
            disks.append({"mount": " ".join(parts[5:]), "device": parts[0], "size": size,
                          "used": used, "percent": percent})
        return disks


class SecurityUpdates(FactBase[list[str]]):
    """Packages with an upgrade waiting from a security archive (``apt-get -s``)."""

    def requires_command(self) -> str:
        """Only Debian-family hosts have apt-get."""
        return "apt-get"

    def command(self) -> str:
        """A simulated upgrade; the lines of security updates."""
        return ("LANG=C apt-get -s -o Debug::NoLocking=1 dist-upgrade 2>/dev/null "
                "| grep '^Inst' | grep -i security || true")

    def process(self, output: list[str]) -> list[str]:
        """The package names."""
        return sorted({line.split()[1] for line in output if len(line.split()) > 1})


class Clock(FactBase[float]):
    """The host's clock, as seconds since the epoch."""

    def command(self) -> str:
        """date with nanoseconds."""
        return "date +%s.%N"

    def process(self, output: list[str]) -> float:
        """The time as a float."""
        return float(output[0].strip())


class SwarmState(FactBase[dict[str, Any]]):
    """This node's Docker swarm state (inactive, active as worker or manager…)."""

    def requires_command(self) -> str:
        """Only hosts with Docker."""
        return "docker"

    def command(self) -> str:
        """docker info's Swarm section."""
        return "docker info --format '{{json .Swarm}}' 2>/dev/null || echo '{}'"

    def process(self, output: list[str]) -> dict[str, Any]:
        """State, node id and whether the node is a manager."""
        try:
            data = json.loads("".join(output) or "{}")
        except ValueError:
            return {"state": "unknown"}
        return {"state": data.get("LocalNodeState") or "unknown",
                "node_id": data.get("NodeID") or "",
                "manager": bool(data.get("ControlAvailable"))}


class SystemdRunning(FactBase[bool]):
    """Whether systemd is the running init (so services can be started and enabled)."""

    def command(self) -> str:
        """sd_booted(3)'s test."""
        return "test -d /run/systemd/system && echo yes || echo no"

    def process(self, output: list[str]) -> bool:
        """True when systemd runs."""
        return output[0].strip() == "yes"


def _fact(host: Host, fact: type[FactBase[Any]], errors: dict[str, str], name: str) -> Any:
    try:
        return host.get_fact(fact)
    except Exception as exc:  # one missing fact must not hide the others
        errors[name] = str(exc)[:200]
        return None


def gather(host: Host, now: Callable[[], float] = time.time) -> dict[str, Any]:
    """Every fact of ``host`` that `roost hosts info` shows, as plain JSON data."""
    errors: dict[str, str] = {}
    distro = _fact(host, LinuxDistribution, errors, "os") or {}
    packages = _fact(host, DebPackages, errors, "packages") or {}
    docker = _fact(host, DockerVersion, errors, "docker") if "docker.io" in packages or \
        "docker-ce" in packages else None
    before = now()
    remote = _fact(host, Clock, errors, "clock")
    after = now()
    offset = round(remote - (before + after) / 2, 3) if remote is not None else None
    release = distro.get("release_meta") or {}
    return {
        "os": _fact(host, Os, errors, "os") or "",
        "distribution": release.get("PRETTY_NAME") or distro.get("name") or "",
        "kernel": _fact(host, KernelVersion, errors, "kernel") or "",
        "cpus": _fact(host, Cpus, errors, "cpus"),
        "memory_mb": _fact(host, Memory, errors, "memory"),
        "disks": _fact(host, DiskUsage, errors, "disks") or [],
        "packages": sorted(f"{name}={versions[0]}" for name, versions in packages.items()
                           if versions),
        "docker": docker or "",
        "swarm": (_fact(host, SwarmState, errors, "swarm") or {}) if docker else {},
        "security_updates": _fact(host, SecurityUpdates, errors, "security_updates") or [],
        "reboot_required": bool(_fact(host, RebootRequired, errors, "reboot_required")),
        "clock_offset_s": offset,
        "errors": errors,
    }

"""The facts Roost gathers from a host, as pyinfra facts; imported only in the worker.

pyinfra's own facts give the OS, kernel, CPUs, memory, packages, Docker and the reboot
flag; the few it lacks (disk use, pending security updates, the host's clock, swarm
state, whether systemd runs) are pyinfra facts of our own, so recipes may use them too.
"""

from __future__ import annotations

import json
import shlex
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


SECURITY_UPDATES = """
set -- /var/lib/apt/lists/*security*_Packages*
[ -e "$1" ] || exit 0
T=$(mktemp)
for f in "$@"; do
  case "$f" in *.lz4) lz4cat "$f";; *.gz) zcat "$f";; *.xz) xzcat "$f";; *) cat "$f";; esac
done | awk '/^Package: /{p=$2} /^Version: /{print p" "$2}' | sort -u -k1,1 -k2,2 > "$T"
dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' | awk '$1=="ii"{print $2" "$3}' \
  | sort -k1,1 | join - "$T" | while read -r p i s; do
    [ "$i" != "$s" ] && dpkg --compare-versions "$i" lt "$s" && echo "$p"
  done | sort -u
rm -f "$T"
"""


class SecurityUpdates(FactBase[list[str]]):
    """Installed packages with a newer version in a security archive's package list.

    Read from apt's lists and dpkg's database rather than ``apt-get -s upgrade``, which
    costs seconds of CPU on every check.
    """

    def requires_command(self) -> str:
        """Only Debian-family hosts have dpkg."""
        return "dpkg-query"

    def command(self) -> str:
        """Compare installed versions with the security lists' ones."""
        return SECURITY_UPDATES

    def process(self, output: list[str]) -> list[str]:
        """The package names."""
        return sorted({line.strip() for line in output if line.strip()})


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


class UnitCpuWeight(FactBase[dict[str, Any]]):
    """A systemd unit's load state and CPU weight (``None`` while it has the default)."""

    def command(self, unit: str) -> str:
        """systemctl's view of the unit."""
        return f"systemctl show -p LoadState -p CPUWeight {shlex.quote(unit)} 2>/dev/null || true"

    @staticmethod
    def default() -> dict[str, Any]:
        """No output (no systemd there): no such unit."""
        return {"loaded": False, "weight": None}

    def process(self, output: list[str]) -> dict[str, Any]:
        """``loaded`` (whether the unit exists) and ``weight``."""
        found = dict(line.partition("=")[::2] for line in output if "=" in line)
        weight = found.get("CPUWeight", "")
        return {"loaded": found.get("LoadState") == "loaded",
                "weight": int(weight) if weight.isdigit() else None}


class Account(FactBase[dict[str, str]]):
    """One user's passwd entry (``getent passwd USER``), empty when there is none: far
    cheaper than pyinfra's ``Users``, which lists every user with their groups."""

    def command(self, user: str) -> str:
        """getent for one user."""
        return f"getent passwd {shlex.quote(user)} || true"

    def process(self, output: list[str]) -> dict[str, str]:
        """Name, uid, gid, home and shell."""
        parts = (output[0].split(":") if output else [])
        if len(parts) < 7:
            return {}
        return {"name": parts[0], "uid": parts[2], "gid": parts[3], "home": parts[5],
                "shell": parts[6]}


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
    """Every fact of ``host`` that `roost hosts info` shows, as plain JSON data; the facts
    are asked for at once, each on its own channel of the one SSH connection."""
    import gevent

    errors: dict[str, str] = {}
    wanted: dict[str, type[FactBase[Any]]] = {
        "os": Os, "distribution": LinuxDistribution, "kernel": KernelVersion, "cpus": Cpus,
        "memory_mb": Memory, "disks": DiskUsage, "packages": DebPackages,
        "docker": DockerVersion, "swarm": SwarmState, "security_updates": SecurityUpdates,
        "reboot_required": RebootRequired}
    jobs = {name: gevent.spawn(_fact, host, fact, errors, name) for name, fact in wanted.items()}
    before = now()
    remote = _fact(host, Clock, errors, "clock")
    after = now()
    gevent.joinall(list(jobs.values()))
    got = {name: job.value for name, job in jobs.items()}
    distro = got["distribution"] or {}
    release = distro.get("release_meta") or {}
    packages = got["packages"] or {}
    return {
        "os": got["os"] or "",
        "distribution": release.get("PRETTY_NAME") or distro.get("name") or "",
        "kernel": got["kernel"] or "",
        "cpus": got["cpus"],
        "memory_mb": got["memory_mb"],
        "disks": got["disks"] or [],
        "packages": sorted(f"{name}={max(versions)}" for name, versions in packages.items()
                           if versions),
        "docker": got["docker"] or "",
        "swarm": got["swarm"] or {} if got["docker"] else {},
        "security_updates": got["security_updates"] or [],
        "reboot_required": bool(got["reboot_required"]),
        "clock_offset_s": round(remote - (before + after) / 2, 3) if remote is not None
        else None,
        "errors": errors,
    }

"""Control groups for app processes: a memory, CPU and process-count limit on each.

Each process gets its own group under a parent Roost owns (``roost-<id of ROOST_HOME>``,
inside the cgroup Roost itself runs in), joined before bwrap starts so that nothing the
app forks escapes it. cgroup v2 is used when it is mounted with its controllers, else the
v1 ``memory``, ``pids`` and ``cpu`` hierarchies. Without a writable hierarchy (Roost not
root, or a container that hides it) processes run without limits and Roost says so once.

The parent group in the cgroup v2 hierarchy (the unified one of a hybrid v1 system, which
each process then joins too) also carries the bind hook of :mod:`roost.runtime.bindguard`,
so app processes listen on loopback only.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from roost.runtime import bindguard
from roost.runtime.limits import ResourceLimits

log = logging.getLogger("roost.supervisor")
ROOT = Path("/sys/fs/cgroup")
UNIFIED = ROOT / "unified"  # cgroup v2 beside the v1 hierarchies on a hybrid system
V1 = ("memory", "pids", "cpu")
CFS_PERIOD = 100_000
_serial = itertools.count(1)


@dataclass
class ProcessGroup:
    """The cgroup(s) of one process."""

    dirs: list[Path]
    version: int
    limits: ResourceLimits
    oom_seen: int = 0
    procs_files: list[str] = field(default_factory=list)

    def oom_kills(self) -> int:
        """How many processes the kernel killed in this group for exceeding its memory."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        for directory in self.dirs:
            path = directory / name
            if path.exists():
                with contextlib.suppress(OSError, ValueError):
                    for line in path.read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
        return 0

    def new_oom_kills(self) -> int:
        """OOM kills since the last call (0 when none)."""
        total = self.oom_kills()
        fresh, self.oom_seen = max(0, total - self.oom_seen), max(total, self.oom_seen)
        return fresh

    def remove(self) -> None:
        """Remove the group once its processes are gone (best effort)."""
        for directory in self.dirs:
            with contextlib.suppress(OSError):
                directory.rmdir()


class Cgroups:
    """Creates per-process groups under Roost's own parent group."""

    def __init__(self, home: Path | None) -> None:
        tag = hashlib.sha256(str(home or "").encode()).hexdigest()[:10]
        self.name = f"roost-{tag}"
        self.version = 0
        self.bases: list[Path] = []
        self.why_not = ""
        self.joined: list[Path] = []  # groups every process joins as well (hybrid v2)
        self.loopback_only = False
        try:
            self._detect()
        except OSError as exc:
            self.why_not = f"cannot set up cgroups ({exc})"
            self.bases = []
        if not self.bases:
            log.warning("apps run without memory, CPU and process limits: %s", self.why_not)
        else:
            self._guard_binds()
        for base in self.bases:  # empty groups a crashed run of this Roost left behind
            for leaf in base.glob("*/*"):
                if _owner_alive(leaf.name):
                    continue  # a live Roost's group, made an instant before its process joins
                with contextlib.suppress(OSError):
                    leaf.rmdir()

    @property
    def available(self) -> bool:
        """Whether limits can be applied."""
        return bool(self.bases)

    def _detect(self) -> None:
        own = _own_cgroups()
        if (ROOT / "cgroup.controllers").exists():
            controllers = (ROOT / "cgroup.controllers").read_text().split()
            if not {"memory", "pids", "cpu"} <= set(controllers):
                self.why_not = "cgroup v2 lacks the memory, pids or cpu controller"
                return
            base = ROOT / own.get("", "/").lstrip("/") / self.name
            base.mkdir(exist_ok=True)
            # Controllers must be enabled in every parent's subtree on the way down.
            (base.parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            (base / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            self.version, self.bases = 2, [base]
            return
        bases = []
        for controller in V1:
            mount = ROOT / controller
            if not (mount / "cgroup.procs").exists():
                self.why_not = f"no cgroup v1 {controller} hierarchy at {mount}"
                return
            parent = mount / own.get(controller, "/").lstrip("/")
            if not parent.is_dir():
                parent = mount
            base = parent / self.name
            base.mkdir(exist_ok=True)
            bases.append(base)
        self.version, self.bases = 1, bases

    def _guard_binds(self) -> None:
        """Attach the loopback-only bind hook to Roost's group in the v2 hierarchy."""
        if self.version == 2:
            target = self.bases[0]
        elif (UNIFIED / "cgroup.controllers").exists():
            target = UNIFIED / _own_cgroups().get("", "/").lstrip("/") / self.name
            try:
                target.mkdir(exist_ok=True)
            except OSError as exc:
                log.warning("apps may listen on every interface: %s", exc)
                return
            self.joined = [target]
        else:
            log.warning("apps may listen on every interface: no cgroup v2 hierarchy")
            return
        why_not = bindguard.attach(target)
        if why_not:
            self.joined = []
            log.warning("apps may listen on every interface: %s", why_not)
        self.loopback_only = why_not is None

    def create(self, app: str, process: str, limits: ResourceLimits) -> ProcessGroup | None:
        """A fresh group for one process of ``app`` with ``limits`` (None: no cgroups)."""
        if not self.bases:
            return None
        leaf = f"{process}-{os.getpid()}-{next(_serial)}"
        dirs = []
        try:
            for base in self.bases:
                directory = base / app / leaf
                directory.mkdir(parents=True, exist_ok=True)
                dirs.append(directory)
            group = ProcessGroup(dirs, self.version, limits)
            self._apply(group)
        except OSError as exc:
            for directory in dirs:
                with contextlib.suppress(OSError):
                    directory.rmdir()
            log.warning("could not limit %s of %s: %s", process, app, exc)
            return None
        group.procs_files = [str(d / "cgroup.procs") for d in [*dirs, *self.joined]]
        return group

    def _apply(self, group: ProcessGroup) -> None:
        limits = group.limits
        quota = max(1000, int(limits.cpu * CFS_PERIOD))
        if group.version == 2:
            [d] = group.dirs
            (d / "memory.max").write_text(str(limits.memory))
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            with contextlib.suppress(OSError):
                (d / "memory.oom.group").write_text("1")
            (d / "pids.max").write_text(str(limits.pids))
            (d / "cpu.max").write_text(f"{quota} {CFS_PERIOD}")
            return
        memory, pids, cpu = group.dirs
        (memory / "memory.limit_in_bytes").write_text(str(limits.memory))
        with contextlib.suppress(OSError):  # without swap accounting the file is absent
            (memory / "memory.memsw.limit_in_bytes").write_text(str(limits.memory))
        (pids / "pids.max").write_text(str(limits.pids))
        (cpu / "cpu.cfs_period_us").write_text(str(CFS_PERIOD))
        (cpu / "cpu.cfs_quota_us").write_text(str(quota))


def _owner_alive(leaf: str) -> bool:
    """Whether the process that made group ``leaf`` (``TYPE.N-PID-SERIAL``) still runs."""
    try:
        pid = int(leaf.rsplit("-", 2)[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _own_cgroups() -> dict[str, str]:
    """Controller -> the cgroup path Roost runs in (``""`` is cgroup v2's)."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                found[controller] = path
    return found


_shared: dict[str, Cgroups] = {}
_shared_lock = threading.Lock()


def shared(home: Path | None) -> Cgroups:
    """The one :class:`Cgroups` of a Roost home in this process (its clean-up of a crashed
    run's groups must happen once, never under another's feet)."""
    key = str(home or "")
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            found = _shared[key] = Cgroups(home)
        return found


def release(home: Path | None) -> None:
    """Remove ``home``'s groups that no process is in any more, its parent groups with
    them (when `roost up` stops): a stopped Roost leaves nothing in the hierarchy."""
    with _shared_lock:
        found = _shared.pop(str(home or ""), None)
    if found is None:
        return
    for base in found.bases:
        for leaf in sorted(base.glob("*/*"), reverse=True):  # an app's groups, then the app
            with contextlib.suppress(OSError):
                leaf.rmdir()
        for directory in base.glob("*"):
            with contextlib.suppress(OSError):
                directory.rmdir()
    for directory in [*found.bases, *found.joined]:
        with contextlib.suppress(OSError):  # a process still in it keeps it
            directory.rmdir()

"""Test VMs: a test host (sshhosts.py) whose PID 1 is a real systemd, for the ``vm`` runtime.

Besides the network and mount namespaces of a test host, a VM gets a PID namespace (systemd
runs as its PID 1, in container mode) and a cgroup namespace rooted at a cgroup of its own
(``/sys/fs/cgroup/{systemd,unified}/roost-hK``), so the units it starts are tracked apart
from this machine's processes. It boots ``roost-vm.target`` (basic.target: journald, the
socket and timer machinery) rather than multi-user.target, so none of this machine's own
services (PostgreSQL, Docker, PowerDNS, sshd) start inside it. sshd is started inside the
PID namespace too: systemd answers ``systemctl`` only from processes it can see. Ending
the ``unshare`` process (``--kill-child``) ends systemd and with it every process of the VM.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import wait_for
from tests.hosts.sshhosts import TestHost

CGROUPS = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")

BOOT = r"""
set -e
D="$1"
mount --make-rprivate /
mount -t tmpfs -o size="$2",mode=0700 tmpfs "$D"
mkdir -p "$D/upper" "$D/work" "$D/root"
mount -t overlay overlay -o lowerdir=/,upperdir="$D/upper",workdir="$D/work" "$D/root"
R="$D/root"
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t tmpfs -o mode=0755 tmpfs "$R/sys/fs/cgroup"
mkdir "$R/sys/fs/cgroup/systemd" "$R/sys/fs/cgroup/unified"
mount -t cgroup -o none,name=systemd cgroup "$R/sys/fs/cgroup/systemd"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup/unified"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mkdir -p "$R/run/sshd" "$R/root/.ssh"
chmod 0755 "$R/run/sshd"
chmod 0700 "$R/root/.ssh"
: > "$R/root/.bashrc"
: > "$R/root/.profile"
rm -f "$R/etc/systemd/system/sockets.target.wants/"*
printf '[Unit]\nDescription=Roost test VM\nRequires=basic.target\nAfter=basic.target\n' \
  > "$R/etc/systemd/system/roost-vm.target"
echo vm > "$R/etc/hostname"
exec chroot "$R" /usr/bin/env -i container=roost-test /lib/systemd/systemd \
  --unit=roost-vm.target
"""


def usable() -> str:
    """Why test VMs cannot run here ("" when they can)."""
    if not Path("/lib/systemd/systemd").exists():
        return "systemd is missing: run scripts/ensure-vm-hosts.sh"
    if not all(Path(c, "cgroup.procs").exists() for c in CGROUPS):
        return "test VMs need the cgroup v1 name=systemd and the v2 hierarchies mounted"
    return ""


class TestVm(TestHost):
    """A test host running systemd as its PID 1."""

    __test__ = False

    def __init__(self, disk: str = "512m") -> None:
        super().__init__(disk=disk)
        self.init_pid = 0

    def enter(self) -> list[str]:
        """``nsenter`` into the VM's namespaces, its PID namespace included."""
        return ["nsenter", "-t", str(self.init_pid), "--mount", "--net", "--pid", "--root",
                "--wd"]

    def _start(self, authorized_key: str) -> TestHost:
        self._claim()
        group = f"roost-h{self.index}"
        for root in CGROUPS:
            os.makedirs(f"{root}/{group}", exist_ok=True)
        script = ("for c in " + " ".join(f"{r}/{group}" for r in CGROUPS) + "; do "
                  'echo $$ > "$c/cgroup.procs"; done; exec ip netns exec "$0" unshare --mount '
                  '--propagation private --pid --fork --kill-child --cgroup sh -c "$1" boot '
                  '"$2" "$3"')
        self.holder = subprocess.Popen(
            ["sh", "-c", script, self.netns, BOOT, str(self.dir), self.disk],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def booted() -> bool:
            assert self.holder is not None
            if self.holder.poll() is not None:
                raise RuntimeError(f"test VM did not boot: {self.holder.stderr.read()}")
            children = Path(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            if not pids or Path(f"/proc/{pids[0]}/exe").resolve().name != "systemd":
                return False
            self.init_pid = int(pids[0])
            state = subprocess.run([*self.enter(), "systemctl", "is-system-running"],
                                   capture_output=True, text=True).stdout.strip()
            return state in ("running", "degraded")

        wait_for(booted, timeout=60, interval=0.1)
        self.write("/root/.ssh/authorized_keys", authorized_key + "\n", mode="600")
        self.rekey()
        return self

    def destroy(self) -> None:
        """Stop systemd (and so every process of the VM), then remove its cgroups."""
        super().destroy()
        group = f"roost-h{self.index}"
        for root in CGROUPS:
            base = Path(root, group)
            if not base.is_dir():
                continue
            for path in sorted((p for p in base.rglob("*") if p.is_dir()),
                               key=lambda p: len(p.parts), reverse=True):
                _rmdir(path)
            _rmdir(base)


def _rmdir(path: Path) -> None:
    def gone() -> bool:
        try:
            path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False  # its last processes are still exiting
        return True

    wait_for(gone, timeout=20, interval=0.05)

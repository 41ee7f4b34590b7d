"""Test hosts: real OpenSSH servers, each in network and mount namespaces of its own.

A test host is a network namespace (``ip netns``) joined to the root one by a veth pair
(10.231.x.y/30, addresses that exist only inside the namespaces), and a mount namespace
whose root is an overlay of this machine's root with a private, size-limited upper
layer: a recipe that writes /etc or installs a user changes only that host's files. A
``sleep`` process holds the namespaces, so sshd can be stopped, re-keyed and started
again without losing the host's files. Needs root, ``ip``, ``unshare``, ``nsenter`` and
Debian's ``openssh-server`` (scripts/ensure-ssh-hosts.sh installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import wait_for

SSHD = "/usr/sbin/sshd"

SETUP = r"""
set -e
D="$1"
mount --make-rprivate /
mount -t tmpfs -o size="$2",mode=0700 tmpfs "$D"
mkdir -p "$D/upper" "$D/work" "$D/root"
mount -t overlay overlay -o lowerdir=/,upperdir="$D/upper",workdir="$D/work" "$D/root"
mount --rbind /dev "$D/root/dev"
mount -t proc proc "$D/root/proc"
mount -t sysfs sysfs "$D/root/sys"
mount -t tmpfs -o mode=0755 tmpfs "$D/root/run"
mount -t tmpfs -o mode=1777 tmpfs "$D/root/tmp"
if [ -n "$3" ]; then  # a Docker Engine of this network namespace, at its usual place
    touch "$D/root/run/docker.sock"
    mount --bind "$3" "$D/root/run/docker.sock"
fi
mkdir -p "$D/root/run/sshd" "$D/root/root/.ssh"
chmod 0755 "$D/root/run/sshd"
chmod 0700 "$D/root/root/.ssh"
# a fresh machine's root: none of this machine's shell start-up files (pyenv and the like)
: > "$D/root/root/.bashrc"
: > "$D/root/root/.profile"
exec chroot "$D/root" sh -c 'echo ready; exec sleep infinity'
"""


def usable() -> str:
    """Why test hosts cannot run here ("" when they can)."""
    if os.geteuid() != 0:
        return "test hosts need root (network and mount namespaces)"
    for tool in ("ip", "unshare", "nsenter", "ssh-keygen", SSHD):
        if shutil.which(tool) is None:
            return f"{tool} is missing: run scripts/ensure-ssh-hosts.sh"
    return ""


class TestHost:
    """One test host; :meth:`start` makes it, :meth:`destroy` removes every trace."""

    __test__ = False  # not a pytest test class

    def __init__(self, disk: str = "256m", netns: str = "", address: str = "",
                 docker_socket: str = "") -> None:
        """A host of its own, or (``netns`` and ``address``) sshd in a network namespace
        made elsewhere, e.g. a swarm test node's, with its ``docker_socket`` as
        /run/docker.sock."""
        self.disk = disk
        self.netns, self.given_address = netns, address
        self.owns_netns = not netns
        self.docker_socket = docker_socket
        self.index = 0
        self.holder: subprocess.Popen[str] | None = None
        self.sshd: subprocess.Popen[bytes] | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="roost-testhost-"))

    @property
    def address(self) -> str:
        """The host's address (inside its namespace)."""
        if self.given_address:
            return self.given_address
        return f"10.231.{self.index // 64}.{(self.index % 64) * 4 + 2}"

    @property
    def port(self) -> int:
        """The SSH port."""
        return 22

    def _claim(self) -> None:
        for k in range(1, 16000):
            name = f"roost-h{k}"
            if subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode:
                continue
            self.netns, self.index = name, k
            gw = f"10.231.{k // 64}.{(k % 64) * 4 + 1}"
            if subprocess.run(["ip", "link", "add", f"rh{k}", "type", "veth", "peer", "name",
                               "eth0", "netns", name], capture_output=True).returncode:
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
                continue  # a leftover of a crashed run holds this slot
            for cmd in (["ip", "addr", "add", f"{gw}/30", "dev", f"rh{k}"],
                        ["ip", "link", "set", f"rh{k}", "up"],
                        ["ip", "-n", name, "addr", "add", f"{self.address}/30", "dev", "eth0"],
                        ["ip", "-n", name, "link", "set", "eth0", "up"],
                        ["ip", "-n", name, "link", "set", "lo", "up"],
                        ["ip", "-n", name, "route", "add", "default", "via", gw]):
                subprocess.run(cmd, check=True, capture_output=True)
            return
        raise RuntimeError("no free test-host slot")

    def start(self, authorized_key: str) -> TestHost:
        """Make the namespaces and the host's files, then start sshd."""
        try:
            return self._start(authorized_key)
        except BaseException:
            self.destroy()
            raise

    def _start(self, authorized_key: str) -> TestHost:
        if self.owns_netns:
            self._claim()
        self.holder = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "unshare", "--mount", "--propagation",
             "private", "sh", "-c", SETUP, "setup", str(self.dir), self.disk,
             self.docker_socket],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"test host did not start: {self.holder.stderr.read()}")
        self.write("/root/.ssh/authorized_keys", authorized_key + "\n", mode="600")
        self.rekey()
        return self

    def enter(self) -> list[str]:
        """The ``nsenter`` command line that runs a program inside the host."""
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "--mount", "--net", "--root", "--wd"]

    def run(self, command: str, check: bool = True) -> str:
        """Run a shell command inside the host (its files, its network); its output."""
        done = subprocess.run([*self.enter(), "sh", "-c", command],
                              capture_output=True, text=True, check=False)
        if check and done.returncode:
            raise RuntimeError(f"{command!r} failed on {self.netns}: {done.stderr}")
        return done.stdout

    def write(self, path: str, text: str, mode: str = "644") -> None:
        """Write a file inside the host."""
        subprocess.run([*self.enter(), "sh", "-c", f"cat > '{path}' && chmod {mode} '{path}'"],
                       input=text, text=True, check=True)

    def rekey(self) -> None:
        """Give the host a new SSH host key and (re)start sshd: a rebuilt machine."""
        self.stop_sshd()
        self.run("rm -f /etc/ssh/roost_test_host_key*; "
                 "ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/roost_test_host_key")
        self.start_sshd()

    def start_sshd(self) -> None:
        """Start sshd on the host's address and wait until it accepts connections."""
        assert self.holder is not None
        options = [f"ListenAddress={self.address}", "HostKey=/etc/ssh/roost_test_host_key",
                   "PidFile=none", "UsePAM=no", "UseDNS=no", "PermitRootLogin=prohibit-password",
                   "MaxStartups=200", "MaxSessions=200", "LogLevel=ERROR"]
        args = [a for o in options for a in ("-o", o)]
        self.sshd = subprocess.Popen([*self.enter(), SSHD, "-D", "-e", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def answering() -> bool:
            if self.sshd.poll() is not None:
                raise RuntimeError(f"sshd of {self.netns} exited at start")
            try:
                with socket.create_connection((self.address, self.port), timeout=1) as s:
                    return s.recv(4).startswith(b"SSH")
            except OSError:
                return False

        wait_for(answering, timeout=20, interval=0.02)

    def stop_sshd(self) -> None:
        """Stop sshd (the host becomes unreachable over SSH)."""
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.terminate()
            self.sshd.wait(10)
        self.sshd = None

    def destroy(self) -> None:
        """Stop everything and remove the namespaces."""
        self.stop_sshd()
        if self.holder is not None and self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait(10)
        if self.netns and self.owns_netns:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

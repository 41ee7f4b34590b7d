"""What the platform's own processes are: found through /proc, as an operator would."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def pids_with(fragment: str) -> list[int]:
    """Processes whose command line contains ``fragment``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fragment in cmdline:
            found.append(int(entry.name))
    return found


def uid_of(pid: int) -> int:
    """The real uid of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def listening_tcp(pid: int) -> set[tuple[str, int]]:
    """The (address, port) pairs process ``pid`` listens on; IPv6 addresses as raw hex."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                address, _, port = fields[1].rpartition(":")
                if len(address) == 8:  # IPv4, in host (little-endian) byte order
                    address = socket.inet_ntoa(bytes.fromhex(address)[::-1])
                ports.add((address, int(port, 16)))
    return ports


def parent_of(pid: int) -> int:
    """The parent process id of ``pid``."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

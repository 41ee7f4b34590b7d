"""One SSH connection to a VM: commands, uploads, and HTTP to a port only the VM sees.

The host key is the one pinned at `roost hosts add` (type and base64 blob): paramiko is
given it as the only known key and refuses any other (``RejectPolicy``); no agent, no
``~/.ssh`` files. A login other than root runs every command through ``sudo -n``.
"""

from __future__ import annotations

import base64
import io
import shlex
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import paramiko

from roost.errors import RuntimeFailure

KEY_KINDS = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


@dataclass(frozen=True)
class VmHost:
    """Where a VM is and how to log in: address, port, user, key, pinned host key."""

    name: str
    address: str
    port: int
    user: str
    private_key: str
    host_key_type: str
    host_key: str  # base64, as in known_hosts

    def __repr__(self) -> str:  # never print the private key
        return f"VmHost({self.name!r}, {self.user}@{self.address}:{self.port})"


def _pkey(text: str) -> paramiko.PKey:
    for kind in KEY_KINDS:
        try:
            return kind.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise RuntimeFailure("the host's private key cannot be read")


class Connection:
    """A connected SSH client to one VM (thread-safe for separate channels)."""

    def __init__(self, host: VmHost, timeout: float = 15.0) -> None:
        self.host = host
        self.client = paramiko.SSHClient()
        where = host.address if host.port == 22 else f"[{host.address}]:{host.port}"
        key = paramiko.PKey.from_type_string(host.host_key_type,
                                             base64.b64decode(host.host_key))
        self.client.get_host_keys().add(where, host.host_key_type, key)
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self._lock = threading.Lock()
        try:
            self.client.connect(host.address, port=host.port, username=host.user,
                                pkey=_pkey(host.private_key), timeout=timeout,
                                banner_timeout=timeout, auth_timeout=timeout,
                                allow_agent=False, look_for_keys=False)
        except paramiko.BadHostKeyException:
            raise RuntimeFailure(f"host key of {host.name} changed: refusing to connect "
                                 "(if the machine was rebuilt, remove and add the host "
                                 "again)") from None
        except (paramiko.SSHException, OSError) as exc:
            raise RuntimeFailure(f"cannot reach {host.name} over SSH ({exc})") from None

    def _wrap(self, command: str) -> str:
        return command if self.host.user == "root" else f"sudo -n sh -c {shlex.quote(command)}"

    def run(self, command: str, stdin: str | bytes | None = None, check: bool = True,
            timeout: float = 300.0) -> tuple[int, str, str]:
        """Run a shell command as root on the VM; (exit code, stdout, stderr)."""
        try:
            with self._lock:
                transport = self.client.get_transport()
                assert transport is not None
                chan = transport.open_session(timeout=timeout)
            chan.settimeout(timeout)
            chan.exec_command(self._wrap(command))
            if stdin is not None:
                chan.sendall(stdin.encode() if isinstance(stdin, str) else stdin)
            chan.shutdown_write()
            out, err = _drain(chan)
            code = chan.recv_exit_status()
            chan.close()
        except (paramiko.SSHException, OSError) as exc:
            raise RuntimeFailure(f"SSH to {self.host.name} failed ({exc})") from None
        if check and code:
            raise RuntimeFailure(f"on {self.host.name}: `{command[:80]}` failed ({code}): "
                                 f"{err.strip()[-300:] or out.strip()[-300:]}")
        return code, out, err

    def upload(self, fh: IO[bytes], remote: str) -> None:
        """Copy ``fh`` to ``remote`` (a path in a root-only directory) as 0600."""
        try:
            with self._lock:
                sftp = self.client.open_sftp()
            try:
                with sftp.open(remote, "wb") as out:
                    out.set_pipelined(True)
                    sftp.chmod(remote, 0o600)
                    while chunk := fh.read(256 * 1024):
                        out.write(chunk)
            finally:
                sftp.close()
        except (paramiko.SSHException, OSError) as exc:
            raise RuntimeFailure(f"upload to {self.host.name}:{remote} failed ({exc})") from None

    def stream(self, command: str) -> Iterator[str]:
        """Lines a long-running command prints, as they come (ends when it exits)."""
        with self._lock:
            transport = self.client.get_transport()
            assert transport is not None
            chan = transport.open_session()
        chan.exec_command(self._wrap(command))
        reader = chan.makefile("r")
        try:
            for line in reader:
                yield str(line).rstrip("\n")
        finally:
            chan.close()

    def http_status(self, port: int, path: str, host_header: str, timeout: float = 5.0,
                    address: str = "127.0.0.1") -> int | None:
        """The HTTP status ``GET path`` gets from ``address:port`` as seen from the VM
        (through the SSH connection: a loopback port is checked too); None when nothing
        answers."""
        try:
            with self._lock:
                transport = self.client.get_transport()
                assert transport is not None
                chan = transport.open_channel("direct-tcpip", (address, port),
                                              ("127.0.0.1", 0), timeout=timeout)
            chan.settimeout(timeout)
            chan.sendall(f"GET {path} HTTP/1.0\r\nHost: {host_header}\r\n"
                         "Connection: close\r\n\r\n".encode())
            head = b""
            while b"\r\n" not in head and len(head) < 4096:
                piece = chan.recv(1024)
                if not piece:
                    break
                head += piece
            chan.close()
        except (TimeoutError, paramiko.SSHException, OSError, EOFError):
            return None
        parts = head.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return None
        return int(parts[1])

    def close(self) -> None:
        """Close the connection."""
        self.client.close()


def _drain(chan: paramiko.Channel) -> tuple[str, str]:
    # Our commands print little on stderr: reading stdout to its end first cannot stall.
    out = chan.makefile("rb").read()
    err = chan.makefile_stderr("rb").read()
    return out.decode(errors="replace"), err.decode(errors="replace")

"""SSH keys: the host key a server shows (pinned at `roost hosts add`), private keys.

A host key is pinned by its SHA-256 fingerprint, written as OpenSSH writes it
(``SHA256:`` + unpadded base64). Private keys are checked with paramiko, the SSH library
pyinfra itself uses, before anything is stored.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from roost.errors import Conflict, InvalidInput

# The key types we ask a server for, best first (as OpenSSH's client does).
KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


@dataclass(frozen=True)
class HostKey:
    """A server's public host key: its type, base64 blob and fingerprint."""

    type: str
    blob: str
    fingerprint: str

    def known_hosts_line(self, address: str, port: int) -> str:
        """This key as a line of an OpenSSH ``known_hosts`` file."""
        where = address if port == 22 else f"[{address}]:{port}"
        return f"{where} {self.type} {self.blob}\n"


def fingerprint_of(blob: bytes) -> str:
    """The OpenSSH SHA-256 fingerprint of a public key blob."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def check_fingerprint(text: str) -> str:
    """A fingerprint as given with ``--host-key``; refused unless ``SHA256:`` + 43 chars."""
    text = text.strip()
    body = text.removeprefix("SHA256:")
    if not text.startswith("SHA256:") or len(body) != 43:
        raise InvalidInput(f"--host-key {text!r} is not a SHA-256 fingerprint: give it as "
                           "ssh-keygen -lf prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpK"
                           "Zlb8n5m8xPiv2Ac")
    return text


def scan(address: str, port: int, timeout: float = 10.0) -> HostKey:
    """The host key the SSH server at ``address:port`` shows (no authentication)."""
    where = f"{address}:{port}"
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise InvalidInput(f"cannot reach {where} over SSH ({exc.strerror or exc}): check the "
                           "address, the port and that sshd runs there") from None
    transport = paramiko.Transport(sock)
    try:
        options = transport.get_security_options()
        offered = [k for k in KEY_TYPES if k in options.key_types]
        options.key_types = offered + [k for k in options.key_types if k not in offered]
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise InvalidInput(f"{where} does not speak SSH ({exc}): check the address and "
                           "port") from None
    finally:
        transport.close()
    return HostKey(type=key.get_name(), blob=key.get_base64(),
                   fingerprint=fingerprint_of(key.asbytes()))


def pin(found: HostKey, expected: str, name: str) -> HostKey:
    """``found`` when its fingerprint is ``expected``; a changed key is refused."""
    if found.fingerprint != expected:
        raise Conflict(f"host key of {name} is {found.fingerprint}, not the {expected} "
                       "expected: someone may be intercepting the connection; if the "
                       "machine was rebuilt, check its new key on its console")
    return found


def check_private_key(text: str) -> str:
    """``text`` when it is an unencrypted private key paramiko can use; else refused."""
    if len(text) > 64_000 or "PRIVATE KEY" not in text:
        raise InvalidInput("the --key file is not an SSH private key (expected a file like "
                           "~/.ssh/id_ed25519 beginning with -----BEGIN … PRIVATE KEY-----)")
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            kind.from_private_key(io.StringIO(text))
            return text
        except paramiko.PasswordRequiredException:
            raise InvalidInput("the --key file is protected by a passphrase: give a key "
                               "without one (ssh-keygen -p -N '' -f FILE on a copy)") from None
        except (paramiko.SSHException, ValueError):
            continue
    raise InvalidInput("the --key file is not an SSH private key paramiko can read "
                       "(ed25519, ECDSA or RSA in OpenSSH or PEM format)")


def platform_key(home: Path) -> tuple[str, str]:
    """Roost's own SSH key (private text, public line), created 0600 on first use; used
    for hosts added without ``--key``."""
    directory = home / "ssh"
    path = directory / "id_ed25519"
    if not path.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            pass  # another request made it just now
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    text = path.read_text()
    loaded = paramiko.Ed25519Key.from_private_key(io.StringIO(text))
    return text, f"{loaded.get_name()} {loaded.get_base64()} roost"

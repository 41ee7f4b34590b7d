"""What the user names a host with: ``ssh://user@host[:port]``, a host name, roles."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from roost.errors import InvalidInput

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
ROLE = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,38}[a-z0-9])?$")
USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
ADDRESS = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]{2,45}\]?$")


@dataclass(frozen=True)
class SshTarget:
    """Where a host is reached: user, address and port."""

    user: str
    address: str
    port: int = 22

    @property
    def url(self) -> str:
        """The ``ssh://`` URL of this target."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        port = f":{self.port}" if self.port != 22 else ""
        return f"ssh://{self.user}@{host}{port}"


def parse_url(text: str) -> SshTarget:
    """Parse ``ssh://user@host[:port]``; anything else is refused with an example."""
    example = "write ssh://USER@HOST[:PORT], e.g. ssh://root@10.0.0.5:22"
    text = text.strip()
    if not text.startswith("ssh://"):
        raise InvalidInput(f"{text!r} is not an SSH URL: {example}")
    try:
        parts = urlsplit(text)
        port = parts.port or 22
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not an SSH URL ({exc}): {example}") from None
    if parts.password is not None or parts.path not in ("", "/") or parts.query:
        raise InvalidInput(f"{text!r}: an SSH URL has no password, path or query: {example}")
    user, address = parts.username or "", parts.hostname or ""
    if not user or not USER.match(user):
        raise InvalidInput(f"{text!r} names no valid user: {example}")
    if not address or not ADDRESS.match(address):
        raise InvalidInput(f"{text!r} names no valid host: {example}")
    return SshTarget(user=user, address=address, port=port)


def check_name(name: str) -> str:
    """A host name: lower-case letters, digits and dashes, at most 63."""
    if not NAME.match(name):
        raise InvalidInput(f"host name {name!r} is not valid: use lower-case letters, digits "
                           "and dashes (at most 63), e.g. web1")
    return name


def check_roles(roles: list[str]) -> list[str]:
    """Roles: each lower-case letters, digits, ``-`` and ``_``; duplicates dropped."""
    out: list[str] = []
    for role in roles:
        if not ROLE.match(role) or role == "all":
            raise InvalidInput(f"role {role!r} is not valid: use lower-case letters, digits, "
                               "'-' and '_' (not 'all'), e.g. --role app")
        if role not in out:
            out.append(role)
    return out

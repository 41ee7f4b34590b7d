"""The CLI's credentials file, ``$ROOST_HOME/credentials.json`` (mode 0600)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


def roost_home() -> Path:
    """The state directory: ``ROOST_HOME`` or ``~/.roost``."""
    return Path(os.environ.get("ROOST_HOME") or Path.home() / ".roost").expanduser()


@dataclass(frozen=True)
class Credentials:
    """Where the CLI sends requests and with which token."""

    url: str
    token: str


def write(home: Path, creds: Credentials) -> Path:
    """Write the credentials file atomically with mode 0600."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "credentials.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": creds.url, "token": creds.token}, fh)
    os.replace(tmp, path)
    return path


def read(home: Path) -> Credentials | None:
    """The stored credentials, or None when there are none."""
    path = home / "credentials.json"
    try:
        data = json.loads(path.read_text())
        return Credentials(url=str(data["url"]), token=str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resolve() -> Credentials | None:
    """Credentials from ``ROOST_API_URL``/``ROOST_TOKEN``, else from the file."""
    stored = read(roost_home())
    url = os.environ.get("ROOST_API_URL") or (stored.url if stored else "")
    token = os.environ.get("ROOST_TOKEN") or (stored.token if stored else "")
    if not url:
        return None
    return Credentials(url=url.rstrip("/"), token=token)

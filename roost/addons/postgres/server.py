"""A PostgreSQL server Roost manages databases on (minimal copy; the add-on's version wins)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit


@dataclass(frozen=True)
class Server:
    """A server reached with an admin login (superuser, or CREATEROLE + CREATEDB)."""

    # postgresql://USER[:PASS]@HOST:PORT/postgres (superuser or CREATEROLE+CREATEDB)
    admin_url: str
    host: str
    port: int
    bin_dir: Path | None    # pg_dump/pg_restore/psql matching the server version, when known

    def url(self, database: str, user: str | None = None, password: str | None = None) -> str:
        """A URL for ``database`` as ``user`` (default: the admin login)."""
        parts = urlsplit(self.admin_url)
        netloc = parts.netloc
        if user is not None:
            auth = quote(user, safe="")
            if password is not None:
                auth += ":" + quote(password, safe="")
            netloc = f"{auth}@{netloc.rpartition('@')[2]}"
        return urlunsplit((parts.scheme, netloc, "/" + quote(database, safe=""), parts.query, ""))


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin``, or None."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_dump").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None

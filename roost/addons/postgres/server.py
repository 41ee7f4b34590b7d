"""PostgreSQL servers Roost administers: an external one (``ROOST_PG_SERVER``) or its own cluster.

A :class:`Server` is what every other module of the add-on (databases, rotation, backups,
diagnose) needs to reach a server: an admin URL and, when known, the client binaries that
match its version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from roost.errors import ConfigError

PG_LIB = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server Roost can administer."""

    admin_url: str  # postgresql://USER[:PASS]@HOST:PORT/postgres, superuser or CREATEROLE+CREATEDB
    host: str
    port: int
    bin_dir: Path | None  # directory of pg_dump/pg_restore/psql matching the server version

    def url(self, database: str, user: str | None = None, password: str | None = None) -> str:
        """A URL for ``database`` on this server, as ``user`` (the admin user by default)."""
        parts = urlsplit(self.admin_url)
        if user is None:
            user = unquote(parts.username or "")
            password = unquote(parts.password) if parts.password is not None else None
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?{parts.query}" if parts.query else ""
        return f"postgresql://{auth}@{host}:{self.port}/{quote(database, safe='')}{query}"

    def client(self, database: str) -> tuple[str, dict[str, str]]:
        """A password-free admin URL for a client program and the environment carrying the
        password (``PGPASSWORD``), so the password never shows in a process list."""
        parts = urlsplit(self.admin_url)
        password = unquote(parts.password) if parts.password is not None else None
        url = self.url(database, unquote(parts.username or ""), None)
        return url, ({"PGPASSWORD": password} if password is not None else {})

    def tool(self, name: str) -> str:
        """The path of client program ``name`` (pg_dump, psql…), matching the server if known."""
        if self.bin_dir is not None and (self.bin_dir / name).exists():
            return str(self.bin_dir / name)
        found = find_bin_dir()
        if found is not None and (found / name).exists():
            return str(found / name)
        return name


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in path.parent.name.split(".") if p.isdigit())


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` (Debian's layout), or None."""
    found = [p for p in PG_LIB.glob("*/bin") if (p / "postgres").exists() or (p / "psql").exists()]
    if not found:
        return None
    return max(found, key=_version_key)


def parse_server(url: str, bin_dir: Path | None = None) -> Server:
    """A :class:`Server` from ``postgresql://USER[:PASS]@HOST[:PORT]/DB``; refuse other shapes."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"} or not parts.hostname:
        raise ConfigError(f"ROOST_PG_SERVER entry {_redact(url)!r} must look like "
                          "postgresql://ADMIN:PASSWORD@HOST:PORT/postgres")
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise ConfigError(f"ROOST_PG_SERVER entry {_redact(url)!r}: bad port") from exc
    path = parts.path.lstrip("/") or "postgres"
    netloc = parts.netloc.rpartition("@")
    auth = netloc[0] + "@" if netloc[1] else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    query = f"?{parts.query}" if parts.query else ""
    admin = f"postgresql://{auth}{host}:{port}/{path}{query}"
    return Server(admin_url=admin, host=parts.hostname, port=port,
                  bin_dir=bin_dir if bin_dir is not None else find_bin_dir())


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(":" + parts.password + "@", ":***@", 1)


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    return _redact(url)

"""PostgreSQL's own tools and catalog, as the backup code needs them.

Passwords never go on a command line (where ``ps`` shows them): URLs handed to
``pg_dump``/``pg_restore`` carry no password, it goes in ``PGPASSWORD``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any, BinaryIO
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from roost.addons.postgres.server import Server
from roost.errors import NotFound, RoostError


class PgFailure(RoostError):
    """A PostgreSQL tool or query failed; the message is its first error line."""

    code = "postgres_failed"
    status = 502


def tool(server: Server, name: str) -> str:
    """The path of ``pg_dump``/``pg_restore``/``psql`` for ``server``."""
    if server.bin_dir is not None and (server.bin_dir / name).exists():
        return str(server.bin_dir / name)
    found = shutil.which(name)
    if found is None:
        raise PgFailure(f"{name} not found: install Debian's postgresql-client package")
    return found


def split_password(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its password, and the environment that supplies it."""
    parts = urlsplit(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if parts.password is None:
        return url, env
    env["PGPASSWORD"] = unquote(parts.password)
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit((parts.scheme, f"{user}@{netloc[2]}", parts.path, parts.query, "")), env


def first_error(stderr: bytes) -> str:
    """The first line of a tool's stderr that says what went wrong."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for line in lines:
        if "error" in line.lower() or "fatal" in line.lower():
            return line.removeprefix("pg_restore: ").removeprefix("pg_dump: ")
    return lines[0] if lines else "no error output"


@contextmanager
def connect(server: Server, database: str, autocommit: bool = True) -> Iterator[Any]:
    """An admin connection to ``database``; a refused login or missing database is one line."""
    try:
        conn = psycopg.connect(server.url(database), autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        text = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        if "does not exist" in text:
            raise NotFound(f"database {database!r} does not exist on "
                           f"{server.host}:{server.port}") from exc
        raise PgFailure(f"cannot connect to {server.host}:{server.port}/{database}: "
                        f"{text}") from exc
    try:
        yield conn
    finally:
        conn.close()


def owner_of(server: Server, database: str) -> str:
    """The role that owns ``database``; NotFound when there is no such database."""
    with connect(server, "postgres") as conn:
        row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                           (database,)).fetchone()
    if row is None:
        raise NotFound(f"database {database!r} does not exist on {server.host}:{server.port}")
    return str(row[0])


def table_counts(conn: Any) -> dict[str, int]:
    """Exact row counts of every ordinary table outside the system schemas."""
    tables = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'"
        " ORDER BY 1, 2").fetchall()
    counts: dict[str, int] = {}
    for schema, name in tables:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema),
                                                             sql.Identifier(name))
        counts[f"{schema}.{name}"] = int(conn.execute(query).fetchone()[0])
    return counts


def normalise_schema(text: str) -> str:
    """A schema-only dump without comments, blank lines and per-dump random keys."""
    keep = [ln.rstrip() for ln in text.splitlines()
            if ln.strip() and not ln.startswith("--")
            and not ln.startswith(("\\restrict", "\\unrestrict"))]
    return "\n".join(keep) + "\n"


def schema_checksum(server: Server, database: str, snapshot: str | None = None) -> str:
    """sha256 of the database's normalised ``pg_dump --schema-only`` (owners and ACLs out)."""
    url, env = split_password(server.url(database))
    args = [tool(server, "pg_dump"), "--schema-only", "--no-owner", "--no-privileges", "-d", url]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    done = subprocess.run(args, env=env, capture_output=True, timeout=600)
    if done.returncode != 0:
        raise PgFailure(f"pg_dump --schema-only of {database} failed: {first_error(done.stderr)}")
    return hashlib.sha256(normalise_schema(done.stdout.decode()).encode()).hexdigest()


def pg_restore(server: Server, database: str, chunks: Iterator[bytes], *, clean: bool,
               role: str | None, no_acl: bool) -> None:
    """Feed a custom-format dump to ``pg_restore -1`` (all or nothing) into ``database``."""
    url, env = split_password(server.url(database))
    args = [tool(server, "pg_restore"), "-1", "--no-owner", "-d", url]
    if clean:
        args += ["--clean", "--if-exists"]
    if role:
        args.append(f"--role={role}")
    if no_acl:
        args.append("--no-acl")
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stderr=err,
                                stdout=subprocess.DEVNULL)
        assert proc.stdin is not None
        feed_error: list[BaseException] = []
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # pg_restore stopped reading: its exit status and stderr say why
        except BaseException as exc:  # the object store failed: stop pg_restore, roll back
            feed_error.append(exc)
            proc.kill()
        finally:
            with suppress(BrokenPipeError):
                proc.stdin.close()
        code = proc.wait()
        if feed_error:
            raise feed_error[0]
        if code != 0:
            err.seek(0)
            raise PgFailure(f"pg_restore into {database} failed, nothing was changed: "
                            f"{first_error(err.read())}")


def create_database(server: Server, prefix: str) -> str:
    """Create an empty scratch database; return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with connect(server, "postgres") as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(server: Server, name: str) -> None:
    """Drop ``name`` (ending its sessions); a missing database is not an error."""
    with connect(server, "postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


class DumpProcess:
    """``pg_dump -Fc`` running with its output on a pipe and its errors in a temp file."""

    def __init__(self, server: Server, database: str, snapshot: str | None) -> None:
        url, env = split_password(server.url(database))
        args = [tool(server, "pg_dump"), "-Fc", "-d", url]
        if snapshot:
            args.append(f"--snapshot={snapshot}")
        self.database = database
        self.err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish/kill)
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=self.err)
        assert self.proc.stdout is not None
        self.stdout: BinaryIO = self.proc.stdout  # type: ignore[assignment]
        self.lock = threading.Lock()

    def finish(self) -> None:
        """Wait for pg_dump; raise PgFailure with its first error line if it failed."""
        code = self.proc.wait()
        self.err.seek(0)
        stderr = self.err.read()
        self.err.close()
        if code != 0:
            raise PgFailure(f"pg_dump of {self.database} failed: {first_error(stderr)}")

    def kill(self) -> None:
        """Stop pg_dump (the upload failed)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.err.close()

"""Point-in-time recovery with pgBackRest (Debian's package): WAL archiving and base backups
of a managed cluster into a repo on the object store, and restoring one app's database as
it was at a given second.

A restore to time T never touches the live cluster's files: the cluster is restored into a
scratch data directory at T, started on a free loopback port, and the app's database is
dumped from it and restored into the live database (in one transaction).
The repo lives in the object store: under ``addons/postgres/pitr`` of a ``file://`` store, or
in the same bucket for ``s3://`` (pgBackRest speaks HTTPS to S3 only).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from roost.addons.postgres import pgtools
from roost.addons.postgres.server import Server
from roost.errors import ConfigError, InvalidInput, RoostError
from roost.objectstore import ObjectStore

REPO_KEY = "addons/postgres/pitr"
RETENTION_DAYS = 7
START_TIMEOUT = 600.0


class PitrFailure(RoostError):
    """pgBackRest or the scratch cluster failed; the message is the first error line."""

    code = "pitr_failed"
    status = 502


@dataclass(frozen=True)
class Cluster:
    """What PITR needs to know of the managed cluster."""

    server: Server
    data_dir: Path
    socket_dir: Path
    os_user: str | None = None  # run pgBackRest and postgres as this user (when Roost is root)


@dataclass(frozen=True)
class Pitr:
    """A pgBackRest stanza for one cluster: its config file and name."""

    config: Path
    stanza: str
    cluster: Cluster


def _as(cluster: Cluster, args: list[str]) -> list[str]:
    return ["runuser", "-u", cluster.os_user, "--", *args] if cluster.os_user else args


def _own(cluster: Cluster, *paths: Path) -> None:
    if cluster.os_user:
        for path in paths:
            shutil.chown(path, cluster.os_user)


def repo_options(objects: ObjectStore, local_repo: Path | None = None) -> dict[str, str]:
    """pgBackRest repo settings for the object store Roost uses (``local_repo``, when given,
    instead of the directory of a ``file://`` store)."""
    if objects.identifier == "file":
        if local_repo is not None:
            return {"repo1-path": str(local_repo)}
        return {"repo1-path": str(objects.local_path(REPO_KEY + "/x").parent)}  # type: ignore[attr-defined]
    if objects.identifier == "s3":
        bucket, prefix = objects.bucket, objects.prefix  # type: ignore[attr-defined]
        endpoint_url = objects.endpoint_url or ""  # type: ignore[attr-defined]
        if endpoint_url.startswith("http://"):
            raise ConfigError(
                f"point-in-time recovery keeps its WAL archive in the S3 store through "
                f"pgBackRest, which speaks only HTTPS, and AWS_ENDPOINT_URL is {endpoint_url}: "
                "give the S3 service an https:// endpoint")
        endpoint = endpoint_url.split("://")[-1]
        options = {"repo1-type": "s3", "repo1-path": f"/{prefix}{REPO_KEY}",
                   "repo1-s3-bucket": bucket, "repo1-s3-region": objects.region,  # type: ignore[attr-defined]
                   "repo1-s3-endpoint": endpoint or f"s3.{objects.region}.amazonaws.com",  # type: ignore[attr-defined]
                   "repo1-s3-uri-style": "path" if endpoint else "host"}
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            options["repo1-s3-key"] = os.environ["AWS_ACCESS_KEY_ID"]
            options["repo1-s3-key-secret"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        else:
            options["repo1-s3-key-type"] = "auto"
        return options
    raise ConfigError(f"PITR cannot keep its repo in a {objects.identifier!r} object store")


def config_path(home: Path, stanza: str) -> Path:
    """Where :func:`configure` writes the stanza's pgBackRest config."""
    return home / "pgbackrest" / stanza / "pgbackrest.conf"


def configure(home: Path, stanza: str, cluster: Cluster, objects: ObjectStore,
              retention_days: int = RETENTION_DAYS, local_repo: Path | None = None) -> Pitr:
    """Write the stanza's pgBackRest config (private to the cluster's user)."""
    base = config_path(home, stanza).parent
    for sub in ("", "log", "lock", "spool"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    repo = repo_options(objects, local_repo)
    if "repo1-type" not in repo:
        Path(repo["repo1-path"]).mkdir(parents=True, exist_ok=True)
        os.chmod(repo["repo1-path"], 0o750)
        _own(cluster, Path(repo["repo1-path"]))
    settings = {**repo, "repo1-retention-full-type": "time",
                "repo1-retention-full": str(retention_days), "start-fast": "y",
                "compress-type": "lz4", "log-level-console": "warn", "log-level-file": "info",
                "log-path": str(base / "log"), "lock-path": str(base / "lock"),
                "spool-path": str(base / "spool"), "archive-async": "n"}
    lines = ["[global]", *(f"{k}={v}" for k, v in settings.items()), "", f"[{stanza}]",
             f"pg1-path={cluster.data_dir}", f"pg1-port={cluster.server.port}",
             f"pg1-socket-path={cluster.socket_dir}",
             f"pg1-user={urlsplit(cluster.server.admin_url).username or 'postgres'}"]
    config = config_path(home, stanza)
    config.write_text("\n".join(lines) + "\n")
    config.chmod(0o600)
    _own(cluster, base, base / "log", base / "lock", base / "spool", config)
    return Pitr(config=config, stanza=stanza, cluster=cluster)


def archive_settings(pitr: Pitr) -> dict[str, str]:
    """The postgresql.conf settings that archive the cluster's WAL into the repo."""
    return {"wal_level": "replica", "archive_mode": "on",
            "archive_command": f"pgbackrest --config={pitr.config} --stanza={pitr.stanza} "
                               "archive-push %p",
            "archive_timeout": "60"}


def _run(pitr: Pitr, *args: str, timeout: float = 3600) -> str:
    command = _as(pitr.cluster, ["pgbackrest", f"--config={pitr.config}",
                                 f"--stanza={pitr.stanza}", *args])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise PitrFailure("pgbackrest not found: install Debian's pgbackrest package "
                          "(scripts/ensure-pgbackrest.sh)") from exc
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        error = next((ln for ln in lines if "ERROR" in ln), lines[0] if lines else "")
        raise PitrFailure(f"pgbackrest {args[-1]} failed: {error.strip()}")
    return done.stdout


def setup(pitr: Pitr) -> None:
    """Create the stanza and check that WAL reaches the repo (the cluster archives)."""
    _run(pitr, "stanza-create")
    _run(pitr, "check")


def backup(pitr: Pitr, kind: str = "full") -> None:
    """Take a base backup (``full``, ``diff`` or ``incr``); expired ones go by retention."""
    _run(pitr, f"--type={kind}", "backup")


def backup_times(pitr: Pitr) -> list[datetime]:
    """When each base backup in the repo stopped, oldest first."""
    info = json.loads(_run(pitr, "--output=json", "info"))
    stops = sorted(int(b["timestamp"]["stop"]) for s in info for b in s.get("backup", []))
    return [datetime.fromtimestamp(stop, UTC) for stop in stops]


def window(pitr: Pitr) -> tuple[datetime, datetime] | None:
    """The times a restore can reach: the end of the oldest base backup up to now."""
    stops = backup_times(pitr)
    if not stops:
        return None
    # pgBackRest keeps whole seconds and wants a target after the backup's stop time.
    return stops[0] + timedelta(seconds=1), datetime.now(UTC)


def check_time(pitr: Pitr, when: datetime, app: str) -> None:
    """Refuse, in one line, a time outside the PITR window."""
    found = window(pitr)
    if found is None:
        raise InvalidInput(f"{app} has no point-in-time recovery yet: no base backup exists")
    start, end = found
    if when.tzinfo is None:
        raise InvalidInput(f"--time {when.isoformat()}: give a time zone, e.g. "
                           f"{when.isoformat()}Z")
    if not start <= when <= end:
        raise InvalidInput(f"--time {when.isoformat()} is outside the PITR window of {app}: "
                           f"{start.isoformat(timespec='seconds')} to "
                           f"{end.isoformat(timespec='seconds')}")


def restore_database(pitr: Pitr, database: str, when: datetime, app: str, confirm: str, *,
                     live: Server | None = None, into_database: str | None = None,
                     into_app: str | None = None) -> str:
    """Restore ``database`` as it was at ``when`` into the live database of the same name
    (or into ``into_database`` of ``into_app``: a fork)."""
    dest_app, dest_db = into_app or app, into_database or database
    if confirm != dest_app:
        raise InvalidInput(f"restoring {app}'s database to {when.isoformat()} overwrites the "
                           f"database of {dest_app}: repeat the app's name to confirm: "
                           f"--confirm {dest_app}")
    check_time(pitr, when, app)
    live = live or pitr.cluster.server
    owner = pgtools.owner_of(live, dest_db)
    _run(pitr, "check")  # switches WAL, so everything up to now is in the repo
    scratch = Path(tempfile.mkdtemp(prefix="roost-pitr-"))
    os.chmod(scratch, 0o700)
    _own(pitr.cluster, scratch)
    try:
        target = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        _run(pitr, f"--pg1-path={scratch}", "--type=time", f"--target={target}",
             "--target-action=promote", "--archive-mode=off", "restore")
        at = _start_scratch(pitr, scratch)
        _copy(at, database, live, dest_db, owner)
    finally:
        _stop_scratch(pitr, scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    source = "" if dest_app == app else f" from {app}'s"
    return (f"Restored {dest_app}'s database ({dest_db}){source} as it was at "
            f"{when.isoformat()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_scratch(pitr: Pitr, data: Path) -> Server:
    """Start the restored cluster on a free loopback port; wait until recovery is done."""
    port = _free_port()
    done = subprocess.run(_as(pitr.cluster, [
        _pg_ctl(pitr), "-D", str(data), "-w", "-t", str(int(START_TIMEOUT)), "-l",
        str(data / "roost-scratch.log"), "-o",
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c archive_mode=off "
        "-c hot_standby=on", "start"]), capture_output=True, text=True,
        timeout=START_TIMEOUT + 30)
    log = data / "roost-scratch.log"
    if done.returncode != 0:
        raise PitrFailure(f"the restored cluster did not start: {_last_fatal(log)}")
    base = pitr.cluster.server
    parts = urlsplit(base.admin_url)
    netloc = parts.netloc.rpartition("@")
    scratch = Server(admin_url=urlunsplit((parts.scheme, f"{netloc[0]}@127.0.0.1:{port}"
                                           if netloc[0] else f"127.0.0.1:{port}",
                                           parts.path, parts.query, "")),
                     host="127.0.0.1", port=port, bin_dir=base.bin_dir)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:  # promotion follows the end of recovery
        try:
            with pgtools.connect(scratch, "postgres") as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    return scratch
        except RoostError:
            if not (data / "postmaster.pid").exists():
                raise PitrFailure(f"the restored cluster stopped: {_last_fatal(log)}") from None
        time.sleep(0.2)
    raise PitrFailure(f"the restored cluster did not finish recovery in {START_TIMEOUT:.0f} s")


def _last_fatal(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    fatal = [ln for ln in lines if "FATAL" in ln or "ERROR" in ln]
    return (fatal[-1] if fatal else lines[-1] if lines else "no log").strip()


def _pg_ctl(pitr: Pitr) -> str:
    return pgtools.tool(pitr.cluster.server, "pg_ctl")


def _stop_scratch(pitr: Pitr, data: Path) -> None:
    if (data / "postmaster.pid").exists():
        subprocess.run(_as(pitr.cluster, [_pg_ctl(pitr), "-D", str(data), "-m", "immediate",
                                          "stop"]), capture_output=True, timeout=120)


def _copy(source: Server, database: str, live: Server, dest: str, owner: str) -> None:
    """pg_dump from the scratch cluster piped into pg_restore on the live one."""
    dump = pgtools.DumpProcess(source, database, None)

    def chunks() -> Iterator[bytes]:
        while chunk := dump.stdout.read(1024 * 1024):
            yield chunk

    try:
        pgtools.pg_restore(live, dest, chunks(), clean=True, role=owner,
                           no_acl=dest != database)
    except BaseException:
        dump.kill()
        raise
    dump.finish()

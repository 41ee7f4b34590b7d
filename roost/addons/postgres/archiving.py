"""WAL archiving of Roost's own clusters with pgBackRest: the stanza of each cluster, a base
backup a day, the point-in-time window, and whether archiving and the disk are healthy.

Each managed cluster (:mod:`roost.addons.postgres.cluster`) is one stanza named like its
directory (``postgres``, ``postgres-v16``). The repo is in the object store's bucket when
it is S3, else in ``ROOST_HOME/pgbackrest/repo`` (the local object store's directory is
the router's to read, and pgBackRest runs as the postgres user). Retention keeps what a
restore to any second of the last ``ROOST_PG_PITR_DAYS`` days needs.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from roost.addons.postgres import pitr
from roost.addons.postgres.admin import admin, rows
from roost.addons.postgres.cluster import OS_USER, Cluster
from roost.objectstore import ObjectStore
from roost.settings import Settings

log = logging.getLogger("roost.postgres")
CONF_NAME = "50-pitr"
BASE_BACKUP_EVERY = timedelta(days=1)
STALL_AFTER = timedelta(minutes=15)
INSTALL = "install Debian's pgbackrest package (`apt-get install pgbackrest`)"


def available() -> bool:
    """Whether pgBackRest is installed."""
    return shutil.which("pgbackrest") is not None


def _cluster(found: Cluster) -> pitr.Cluster:
    return pitr.Cluster(server=found.server(), data_dir=found.data, socket_dir=found.run,
                        os_user=OS_USER if os.geteuid() == 0 else None)


def local_repo(settings: Settings) -> Path:
    """The repo directory when the object store is a local one."""
    return settings.home / "pgbackrest" / "repo"


def configured(settings: Settings, found: Cluster) -> pitr.Pitr | None:
    """The cluster's stanza if it archives WAL (no files are written)."""
    config = pitr.config_path(settings.home, found.name)
    if not available() or not config.exists() or not found.exists():
        return None
    if not (found.data / "conf.d" / f"{CONF_NAME}.conf").exists():
        return None
    return pitr.Pitr(config=config, stanza=found.name, cluster=_cluster(found))


def enable(settings: Settings, objects: ObjectStore, found: Cluster,
           first_backup: bool = True) -> pitr.Pitr | None:
    """Archive the running cluster's WAL into the repo; take a first base backup if there is
    none (``first_backup``). Without pgBackRest, say so in the log and return None."""
    if not available():
        log.warning("Roost's PostgreSQL keeps no WAL archive, so there is no point-in-time "
                    "recovery: %s", INSTALL)
        return None
    stanza = pitr.configure(settings.home, found.name, _cluster(found), objects,
                            settings.pg_pitr_days, local_repo(settings))
    found.set_config(CONF_NAME, pitr.archive_settings(stanza))
    pitr.setup(stanza)
    if first_backup and not pitr.backup_times(stanza):
        pitr.backup(stanza)
    return stanza


def backup_if_due(stanza: pitr.Pitr, now: datetime | None = None) -> bool:
    """Take a full base backup when the newest is a day old (or there is none)."""
    now = now or datetime.now(UTC)
    times = pitr.backup_times(stanza)
    if times and now - times[-1] < BASE_BACKUP_EVERY:
        return False
    pitr.backup(stanza)
    return True


def describe_window(stanza: pitr.Pitr | None) -> str:
    """The PITR window in words, for `roost pg info` and the dashboard."""
    if stanza is None:
        return f"none: the server does not archive WAL to Roost ({INSTALL} for Roost's own)"
    found = pitr.window(stanza)
    if found is None:
        return "none yet: no base backup has been taken"
    return f"{found[0].isoformat(timespec='seconds')} to now"


@dataclass(frozen=True)
class ArchiveState:
    """What pg_stat_archiver says, and the verdict: ``stalled`` with a reason, or not."""

    stalled: bool
    reason: str = ""


def _segment(name: str | None) -> int:
    """A WAL file's position (timeline aside): log and segment numbers in one integer."""
    if not name or len(name) < 24:
        return -1
    return int(name[8:16], 16) * 0x100 + int(name[16:24], 16)


def archive_state(found: Cluster, now: datetime | None = None,
                  stall_after: timedelta = STALL_AFTER) -> ArchiveState:
    """Whether WAL archiving has stopped advancing: archiving fails, or WAL waits to be
    archived, and nothing has been archived for ``stall_after``."""
    now = now or datetime.now(UTC)
    with admin(found.server()) as conn:
        [(archived, archived_at, failed, failed_at, current, started)] = rows(conn, """
            SELECT last_archived_wal, last_archived_time, last_failed_wal, last_failed_time,
                   pg_walfile_name(pg_current_wal_lsn()), pg_postmaster_start_time()
            FROM pg_stat_archiver""")
    since = archived_at or started
    if now - since < stall_after:
        return ArchiveState(False)
    if failed_at is not None and (archived_at is None or failed_at > archived_at):
        return ArchiveState(True, f"archiving {failed} has failed since "
                            f"{since.isoformat(timespec='seconds')} (last attempt "
                            f"{failed_at.isoformat(timespec='seconds')})")
    behind = _segment(current) - _segment(archived) if archived else 0
    if behind > 2:
        return ArchiveState(True, f"{behind - 1} WAL files wait to be archived; nothing has "
                            f"been archived since {since.isoformat(timespec='seconds')}")
    return ArchiveState(False)


def disk_use(found: Cluster) -> float:
    """The share (0 to 1) of the data directory's volume in use."""
    stats = os.statvfs(found.data)
    total = stats.f_blocks * stats.f_frsize
    free = stats.f_bavail * stats.f_frsize
    return (total - free) / total if total else 0.0

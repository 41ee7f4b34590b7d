"""Roost's own PostgreSQL clusters, looked after in the background of `roost up`: a base
backup a day for point-in-time recovery, and the maintainers of every app on a cluster told
when its disk is over 80 % full, its WAL archive has stopped advancing, or the base backup
failed (email or chat, at most once a day per cluster and kind)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from roost.addons.postgres import archiving
from roost.addons.postgres.addon import key_of, managed_clusters
from roost.addons.postgres.cluster import Cluster
from roost.errors import RoostError
from roost.orchestration import addons
from roost.orchestration.alerts import notify_maintainers
from roost.orchestration.platform import Platform

log = logging.getLogger("roost.pg_health")
DISK_LIMIT = 0.8


def apps_on(platform: Platform, managed: Cluster) -> list[str]:
    """The apps whose database is on ``managed``."""
    key = key_of(managed)
    return [app for app, state in addons.states_of_kind(platform, "postgres")
            if state.get("server") == key]


def _tell(platform: Platform, apps: list[str], what: str, managed: Cluster, now: datetime,
          subject: str, body: str) -> None:
    for app in apps:
        notify_maintainers(platform, app, f"pg{what}:{managed.name}:{app}:{now:%Y-%m-%d}",
                           "postgres", f"[roost] {app}: {subject}", body)


def check_cluster(platform: Platform, managed: Cluster, now: datetime, *,
                  disk_limit: float = DISK_LIMIT,
                  stall_after: timedelta = archiving.STALL_AFTER) -> list[str]:
    """Back ``managed`` up if due and check its disk and archive; return what was found."""
    found: list[str] = []
    apps = apps_on(platform, managed)
    stanza = archiving.configured(platform.settings, managed)
    if stanza is not None:
        try:
            archiving.backup_if_due(stanza, now)
        except RoostError as exc:
            found.append(f"base backup failed: {exc}")
            _tell(platform, apps, "base", managed, now, "the daily base backup failed",
                  f"Roost's PostgreSQL ({managed.name}) could not take its daily base backup, "
                  f"so point-in-time recovery will not reach back as far as it should:\n\n"
                  f"  {exc}\n\nThe next attempt is in ten minutes.")
        state = archiving.archive_state(managed, now, stall_after)
        if state.stalled:
            found.append(f"WAL archive stalled: {state.reason}")
            _tell(platform, apps, "archive", managed, now,
                  "the database's WAL archive has stopped advancing",
                  f"Roost's PostgreSQL ({managed.name}) is not archiving its WAL: "
                  f"{state.reason}.\n\nPoint-in-time recovery cannot reach past the last "
                  "archived file, and unarchived WAL fills the disk. Check the cluster's log "
                  f"and pgBackRest's in ROOST_HOME/pgbackrest/{managed.name}/log.")
    use = archiving.disk_use(managed)
    if use > disk_limit:
        found.append(f"disk {use:.0%} full")
        _tell(platform, apps, "disk", managed, now,
              f"the database's disk is {use:.0%} full",
              f"The volume holding Roost's PostgreSQL ({managed.name}, {managed.data}) is "
              f"{use:.0%} full (the alert is at {disk_limit:.0%}). When it fills up the "
              "database stops accepting writes: free space or grow the volume.")
    return found


def maintenance_pass(platform: Platform, now: datetime | None = None) -> dict[str, list[str]]:
    """Look after every running managed cluster; one cluster's trouble does not stop the rest."""
    now = now or datetime.now(UTC)
    report: dict[str, list[str]] = {}
    for managed in managed_clusters(platform.settings):
        if not managed.running():
            continue  # a stopped database is an outage: its uptime monitor pages for it
        try:
            report[managed.name] = check_cluster(platform, managed, now)
        except RoostError:
            log.exception("looking after Roost's PostgreSQL (%s) failed", managed.name)
    return report

"""Backups of apps' databases as flows: capture, restore, verify and tell the maintainers,
and the daily pass of `roost up` (capture what is due, prove it, apply retention).

Where an app's database is comes from :func:`where`, the one place the postgres add-on's
state plugs in.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from roost.addons.postgres import backups, pitr, schedule, verify
from roost.addons.postgres.backups import BackupRecord, Target
from roost.core import apps
from roost.errors import InvalidInput
from roost.notify import MAIL_CHANNELS
from roost.orchestration.alerts import notify_maintainers
from roost.orchestration.platform import Platform

log = logging.getLogger("roost.pg_backups")

def _known(platform: Platform, app: str) -> None:
    with platform.sessions.begin() as session:
        apps.get(session, app)


def where(platform: Platform, app: str) -> Target:
    """The server and database of ``app`` (the app must exist): its postgres add-on's, or
    else a database named like the app on the first ``ROOST_PG_SERVER`` (databases made
    outside Roost)."""
    from roost.addons.postgres.addon import server_of
    from roost.orchestration import addons

    _known(platform, app)
    if "postgres" in addons.attached_kinds(platform, app):
        state = addons.state_of(platform, app, "postgres")
        return backups.target(server_of(platform.settings, state), state["database"])
    servers = platform.settings.pg_server
    return backups.locate(app, servers[0] if servers else "")


def capture(platform: Platform, app: str, trigger: str = "manual") -> BackupRecord:
    """Take a backup of ``app``'s database now."""
    found = where(platform, app)
    return backups.capture(found.server, found.database, platform.objects, app,
                           sessions=platform.sessions, trigger=trigger)


def restore(platform: Platform, app: str, bid: str, confirm: str,
            into: str | None = None) -> str:
    """Restore backup ``bid`` of ``app`` into ``app`` (or into ``into``, another app)."""
    _known(platform, app)
    record = backups.get(platform.sessions, app, bid)
    dest = where(platform, into or app)
    return backups.restore(dest.server, dest.database, platform.objects, record, confirm,
                           into_app=into)


def pitr_for(platform: Platform, app: str) -> pitr.Pitr | None:
    """The pgBackRest stanza of the cluster holding ``app``'s database, if it archives WAL:
    Roost's own clusters do (:mod:`roost.addons.postgres.archiving`), external servers not."""
    from roost.addons.postgres import archiving
    from roost.addons.postgres.addon import cluster, is_managed
    from roost.orchestration import addons

    _known(platform, app)
    if "postgres" not in addons.attached_kinds(platform, app):
        return None
    state = addons.state_of(platform, app, "postgres")
    if not is_managed(state["server"]):
        return None
    return archiving.configured(platform.settings, cluster(platform.settings, state["server"]))


def restore_to_time(platform: Platform, app: str, when: datetime, confirm: str,
                    into: str | None = None) -> str:
    """Restore ``app``'s database as it was at ``when`` (into ``into``'s, a fork)."""
    source = where(platform, app)
    dest = where(platform, into) if into else source
    stanza = pitr_for(platform, app)
    if stanza is None:
        from roost.addons.postgres.archiving import INSTALL, available

        why = ("its server does not archive WAL to Roost" if available() else
               f"pgBackRest is missing: {INSTALL} and restart `roost up`")
        raise InvalidInput(f"{app}'s database has no point-in-time recovery ({why}): "
                           "restore a backup by id instead")
    return pitr.restore_database(stanza, source.database, when, app, confirm,
                                 live=dest.server, into_database=dest.database, into_app=into)


def download(platform: Platform, app: str, bid: str, path: Path | None = None
             ) -> tuple[str, Path | None]:
    """A signed URL of backup ``bid``, or the backup written to ``path``."""
    _known(platform, app)
    return backups.download(platform.objects, backups.get(platform.sessions, app, bid), path)


def verify_and_report(platform: Platform, app: str, bid: str) -> BackupRecord:
    """Prove backup ``bid`` restores to what was captured; tell maintainers if it does not
    (email/chat; a text message too when the one before it failed as well)."""
    found = where(platform, app)
    record = verify.verify(found.server, platform.objects, platform.sessions,
                           backups.get(platform.sessions, app, bid))
    if record.status == "failed":
        in_a_row = schedule.consecutive_failures(backups.list_backups(platform.sessions, app))
        channels = (*MAIL_CHANNELS, "sms") if in_a_row >= 2 else MAIL_CHANNELS
        subject = f"[roost] {app}: database backup {record.id} failed verification"
        body = (f"Backup {record.id} of {app}'s database ({record.database}) was restored into "
                f"a scratch database to prove it, and it failed:\n\n  {record.reason}\n\n"
                f"Failed verifications in a row: {in_a_row}. Take a fresh backup with "
                f"`roost pg backups capture {app}` and check it with "
                f"`roost pg backups verify {app} ID`.")
        notify_maintainers(platform, app, f"pgbackup:{app}:{record.id}", "backup", subject,
                           body, channels)
    return record


def run_scheduled(platform: Platform, app: str, now: datetime) -> BackupRecord | None:
    """Today's scheduled backup of ``app``: capture, verify, retention."""
    schedule.mark_ran(platform.sessions, app, now)
    try:
        record = capture(platform, app, trigger="scheduled")
    except Exception as exc:
        log.exception("scheduled backup of %s failed", app)
        notify_maintainers(platform, app, f"pgbackup:{app}:capture:{now:%Y-%m-%d}", "backup",
                           f"[roost] {app}: the daily database backup failed",
                           f"The scheduled backup of {app}'s database failed: {exc}")
        return None
    record = verify_and_report(platform, app, record.id)
    schedule.apply_retention(platform.sessions, platform.objects, app)
    return record


def scheduled_pass(platform: Platform, now: datetime | None = None) -> list[str]:
    """Run every due scheduled backup; return the apps attempted."""
    now = now or datetime.now(UTC)
    done = []
    for app in schedule.due(platform.sessions, now):
        run_scheduled(platform, app, now)
        done.append(app)
    return done

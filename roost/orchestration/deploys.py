"""Deploy locks and build records: one deploy of an app at a time, every build accounted for.

A lock is a row in ``deploy_locks`` whose holder names the host (``actor@host``); a second
deploy is refused with a clear message. At start-up a host recovers only its own locks and
builds, so a restart never touches a deploy another host on the same store is running.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from roost.core import apps, audit
from roost.errors import Conflict
from roost.store.base import utcnow
from roost.store.models import Build, DeployLock

if TYPE_CHECKING:
    from roost.build.service import BuildResult
    from roost.orchestration.platform import Platform


def holder(actor: str, host: str | None = None) -> str:
    """How a deploy lock names who holds it: ``actor@host``."""
    return f"{actor}@{host or socket.gethostname()}"


def acquire_lock(platform: Platform, app_name: str, who: str) -> int:
    """Take the app's deploy lock; refuse with Conflict while another deploy runs."""
    with platform.sessions.begin() as session:
        app_id = apps.get(session, app_name).id
    try:
        with platform.sessions.begin() as session:
            session.add(DeployLock(app_id=app_id, holder=who))
    except IntegrityError:
        with platform.sessions.begin() as session:
            lock = session.get(DeployLock, app_id)
            since = lock.acquired_at.strftime("%H:%M:%S UTC") if lock else "just now"
            by = lock.holder if lock else "another deploy"
        raise Conflict(f"a deploy of {app_name} is already running ({by}, since {since}); "
                       "wait for it to finish, then try again") from None
    return app_id


def release_lock(platform: Platform, app_id: int) -> None:
    """Drop the app's deploy lock."""
    with platform.sessions.begin() as session:
        session.execute(delete(DeployLock).where(DeployLock.app_id == app_id))


def recover_own_locks(platform: Platform, host: str | None = None) -> int:
    """At start-up: drop this host's leftover locks and fail the builds they guarded.

    Locks held by other hosts (a shared PostgreSQL) are theirs and stay. Returns how many
    locks were recovered.
    """
    suffix = "@" + (host or socket.gethostname())
    with platform.sessions.begin() as session:
        mine = [lock for lock in session.scalars(select(DeployLock))
                if lock.holder.endswith(suffix)]
        for lock in mine:
            build = session.get(Build, lock.build_id) if lock.build_id else None
            if build is not None and build.status == "running":
                build.status = "failed"
                build.error = "interrupted: Roost stopped during the build"
                build.finished_at = utcnow()
            session.delete(lock)
    return len(mine)


def start_build(platform: Platform, app_id: int, actor: str, source_size: int,
                source_version: str) -> int:
    """Record a running build and tie it to the app's deploy lock; return its id."""
    with platform.sessions.begin() as session:
        build = Build(app_id=app_id, actor=actor, source_size=source_size,
                      source_version=source_version, status="running")
        session.add(build)
        session.flush()
        lock = session.get(DeployLock, app_id)
        if lock is not None:
            lock.build_id = build.id
        return build.id


def finish_build(platform: Platform, build_id: int, status: str, *, error: str = "",
                 tail: list[str] | None = None, step: str = "",
                 result: BuildResult | None = None, number: int | None = None) -> None:
    """Record how a build ended (and its slug, when it succeeded) with an audit entry."""
    with platform.sessions.begin() as session:
        build = session.get(Build, build_id)
        assert build is not None
        build.status = status
        build.finished_at = utcnow()
        build.error = error
        build.step = step
        build.output_tail = "\n".join((tail or [])[-30:])
        build.release_number = number
        if result is not None:
            build.slug_key = result.slug_key
            build.slug_size = result.slug_size
            build.buildpacks = list(result.buildpacks_used)
            build.durations = dict(result.durations)
        audit.record(session, build.actor, f"builds.{status}", f"build #{build_id} {status}",
                     build=build_id, app_id=build.app_id)

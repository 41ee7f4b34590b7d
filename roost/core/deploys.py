"""Deploys: build uploaded source into a slug, cut a release, run the hooks, activate it.

One deploy of an app runs at a time (a row in ``deploy_locks``); a second is refused with
a clear message. A failed build or activation creates no serving release and leaves the
current one in place. Progress is reported as events through an ``emit`` callback:
``{"type": "output" | "step" | "result" | "error", ...}``.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from roost.context import Context
from roost.core import apps, audit, releases
from roost.core import config as config_vars
from roost.errors import BuildError, Conflict, RoostError
from roost.store.base import utcnow
from roost.store.models import Build, DeployLock, Release

log = logging.getLogger("roost.deploys")
Emit = Callable[[dict[str, Any]], None]


@dataclass
class DeployStage:
    """What a deploy hook sees: the app, the new release and, after a build, its files."""

    ctx: Context
    app: str
    release: int
    emit: Emit
    build_dir: Path | None = None
    lockfiles: list[str] = field(default_factory=list)
    config: dict[str, str] = field(default_factory=dict)


class Activator(Protocol):
    """Makes a release serve traffic (the runtime); raises RuntimeFailure when it cannot."""

    def activate(self, ctx: Context, app: str, release: Release, env: dict[str, str],
                 emit: Emit) -> None:
        """Start the release's processes and move traffic to them."""


def _run_hooks(stage_name: str, stage: DeployStage) -> None:
    for hook in stage.ctx.hooks.get(stage_name, []):
        hook(stage)


def acquire_lock(ctx: Context, app_name: str, holder: str) -> int:
    """Take the app's deploy lock; refuse with Conflict while another deploy runs."""
    with ctx.sessions.begin() as session:
        app = apps.get(session, app_name)
        app_id = app.id
    try:
        with ctx.sessions.begin() as session:
            session.add(DeployLock(app_id=app_id, holder=holder))
    except IntegrityError:
        with ctx.sessions.begin() as session:
            lock = session.get(DeployLock, app_id)
            since = lock.acquired_at.strftime("%H:%M:%S UTC") if lock else "just now"
            who = lock.holder if lock else "another deploy"
        raise Conflict(f"a deploy of {app_name} is already running ({who}, since {since}); "
                       "wait for it to finish, then try again") from None
    return app_id


def holder(actor: str) -> str:
    """How a deploy lock names who holds it."""
    return f"{actor}@{socket.gethostname()}"


def release_lock(ctx: Context, app_id: int) -> None:
    """Drop the app's deploy lock."""
    with ctx.sessions.begin() as session:
        session.execute(delete(DeployLock).where(DeployLock.app_id == app_id))


def clear_stale_locks(ctx: Context) -> None:
    """At start-up no deploy can be running: drop leftover locks, fail leftover builds."""
    with ctx.sessions.begin() as session:
        session.execute(delete(DeployLock))
        for build in session.scalars(select(Build).where(Build.status == "running")):
            build.status = "failed"
            build.error = "interrupted: Roost stopped during the build"
            build.finished_at = utcnow()


def activate(ctx: Context, app_name: str, number: int, emit: Emit,
             stage: DeployStage | None = None) -> Release:
    """Run the hooks and make release ``number`` current; mark it failed if that fails."""
    with ctx.sessions.begin() as session:
        release = releases.get(session, app_name, number)
        env = releases.config_of(release, ctx.cipher)
    stage = stage or DeployStage(ctx=ctx, app=app_name, release=number, emit=emit, config=env)
    activator: Activator | None = ctx.services.get("runtime")
    try:
        _run_hooks("before_activate", stage)
        if activator is not None:
            with ctx.sessions.begin() as session:  # hooks may have added to the release
                release = releases.get(session, app_name, number)
            emit({"type": "step", "step": "release", "message": f"starting v{number}"})
            activator.activate(ctx, app_name, release, env, emit)
    except RoostError as exc:
        with ctx.sessions.begin() as session:
            failed = releases.get(session, app_name, number)
            releases.mark(session, failed, "failed", str(exc))
        raise
    with ctx.sessions.begin() as session:
        done = releases.get(session, app_name, number)
        releases.mark(session, done, "succeeded")
    try:
        _run_hooks("after_activate", stage)
    except Exception:  # after-hooks (scans, notices) never undo a live release
        log.exception("after-activate hook failed for %s v%s", app_name, number)
    return done


def deploy_source(ctx: Context, app_name: str, archive: Path, actor: str, emit: Emit,
                  source_version: str = "", locked_app_id: int | None = None) -> Release:
    """Build ``archive`` for the app, cut a release and activate it.

    The caller may hold the deploy lock already (``locked_app_id``); it is released here.
    """
    from roost.build.service import BuildLimits, remove_build_dir, run_build

    app_id = locked_app_id or acquire_lock(ctx, app_name, holder(actor))
    try:
        with ctx.sessions.begin() as session:
            app = apps.get(session, app_name)
            values = config_vars.as_dict(session, ctx.cipher, app_name)
            buildpacks = list(app.buildpacks or [])
            build = Build(app_id=app_id, actor=actor, source_size=archive.stat().st_size,
                          source_version=source_version, status="running")
            session.add(build)
            session.flush()
            build_id = build.id
            session.get(DeployLock, app_id).build_id = build_id  # type: ignore[union-attr]
        emit({"type": "step", "step": "build", "message": f"build #{build_id} started"})
        tail: list[str] = []

        def on_output(line: str) -> None:
            tail.append(line)
            del tail[:-40]
            emit({"type": "output", "line": line})

        s = ctx.settings
        limits = BuildLimits(timeout_seconds=s.max_build_seconds,
                             max_slug_bytes=s.max_slug_mb * 1024 * 1024,
                             sandbox=s.sandbox == "on", user=s.app_user or None,
                             sandbox_paths=tuple(s.sandbox_paths))
        try:
            result = run_build(archive, app_name, values, buildpacks, ctx.services["objects"],
                               s.home / "builds", s.home / "cache", on_output, limits,
                               build_id=f"b{build_id}", source_version=source_version or None)
        except RoostError as exc:
            _finish_build(ctx, build_id, "failed", error=str(exc), tail=tail,
                          step=getattr(exc, "step", ""))
            raise
        try:
            with ctx.sessions.begin() as session:
                app = apps.get(session, app_name)
                release = releases.create(
                    session, ctx.cipher, app, slug_key=result.slug_key,
                    slug_size=result.slug_size, process_types=result.process_types,
                    config=values, description=f"deploy of build #{build_id}", actor=actor,
                    build_id=build_id,
                    meta={"buildpacks": result.buildpacks_used, "lockfiles": result.lockfiles,
                          "source_version": source_version})
                number = release.number
            _finish_build(ctx, build_id, "succeeded", tail=tail, result=result, number=number)
            stage = DeployStage(ctx=ctx, app=app_name, release=number, emit=emit,
                                build_dir=result.build_dir, lockfiles=result.lockfiles,
                                config=values)
            return activate(ctx, app_name, number, emit, stage)
        finally:
            remove_build_dir(result)
    finally:
        release_lock(ctx, app_id)


def _finish_build(ctx: Context, build_id: int, status: str, *, error: str = "",
                  tail: list[str] | None = None, step: str = "", result: Any = None,
                  number: int | None = None) -> None:
    with ctx.sessions.begin() as session:
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
        app_name = session.get(Build, build_id).app_id  # type: ignore[union-attr]
        audit.record(session, build.actor, f"builds.{status}", f"build #{build_id} {status}",
                     build=build_id, app_id=app_name)


def save_upload(chunks: Any, limit: int) -> Path:
    """Write an uploaded archive to a temporary file, refusing more than ``limit`` bytes."""
    tmp = Path(tempfile.mkdtemp(prefix="roost-upload-")) / "source.tar.gz"
    size = 0
    with tmp.open("wb") as fh:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                shutil.rmtree(tmp.parent, ignore_errors=True)
                raise BuildError(f"source archive over {limit // (1024 * 1024)} MB; "
                                 "add large files to .slugignore or .gitignore", step="upload")
            fh.write(chunk)
    return tmp

"""The deploy pipeline, read top to bottom in :data:`DEPLOY`.

receive source → build → scan lockfiles → attach add-ons' config → cut release → publish
assets → a VM app's own recipes → activate → record deploy marker → watch → notify.

Each step is a small object with a name, what it does, the message it fails with, and a
``skip_reason`` that says why it would not run (``roost deploy --dry-run`` prints them). A
fatal step's failure stops the deploy and leaves the serving release in place; a step that
is not fatal (scans, markers, notices) reports its error and the deploy goes on. Config
changes and rollbacks run :data:`TAIL`, the same steps from "attach add-ons' config" on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from roost.core import apps, releases
from roost.core import config as config_vars
from roost.errors import RoostError
from roost.orchestration import addons, alerts, assetflow, buildlogs, vulnwatch, watch
from roost.orchestration import deploys as records
from roost.orchestration.app_recipes import RunAppRecipes
from roost.orchestration.steps import Deploy, Emit, PlannedStep, Step, plan, run
from roost.store.models import Release

if TYPE_CHECKING:
    from roost.orchestration.platform import Platform


class ReceiveSource(Step):
    """Record a running build for the uploaded source."""

    name, does = "receive", "record the uploaded source as a new build"
    failure = "the source could not be received"

    def skip_reason(self, d: Deploy) -> str:
        return "" if d.source is not None else "no source (not a build)"

    def run(self, d: Deploy) -> None:
        assert d.source is not None and d.app_id is not None
        d.build_id = records.start_build(d.platform, d.app_id, d.actor,
                                         d.source.stat().st_size, d.source_version)
        d.emit = buildlogs.tee(d.platform.settings.home, d.app, d.build_id, d.emit)
        d.step("build", f"build #{d.build_id} started")
        if d.origin:
            d.emit({"type": "output", "line": d.origin})


class BuildSlug(Step):
    """Run the buildpacks and store the slug."""

    name, does = "build", "run the buildpacks (detect, compile, release) and store the slug"
    failure = "the build failed"

    def skip_reason(self, d: Deploy) -> str:
        return ReceiveSource().skip_reason(d)

    def run(self, d: Deploy) -> None:
        from roost.build.service import BuildLimits, run_build

        assert d.source is not None
        s = d.platform.settings
        with d.platform.sessions.begin() as session:
            app = apps.get(session, d.app)
            values = config_vars.as_dict(session, d.platform.cipher, d.app)
            buildpacks = list(app.buildpacks or [])

        def on_output(line: str) -> None:
            d.output_tail.append(line)
            del d.output_tail[:-40]
            d.emit({"type": "output", "line": line})

        limits = BuildLimits(timeout_seconds=s.max_build_seconds,
                             max_slug_bytes=s.max_slug_mb * 1024 * 1024,
                             sandbox=s.sandbox == "on", user=s.app_user or None,
                             sandbox_paths=tuple(s.sandbox_paths))
        builder = d.platform.runtime.builds if d.platform.runtime is not None else None
        if builder is not None:  # the runtime runs builds as its own tasks (swarm)
            from roost.build.tasked import run_build_in_task

            d.build = run_build_in_task(d.source, d.app, values, buildpacks, d.platform.objects,
                                        s.home / "builds", on_output, builder, limits,
                                        build_id=f"b{d.build_id}",
                                        source_version=d.source_version or None)
            return
        d.build = run_build(d.source, d.app, values, buildpacks, d.platform.objects,
                            s.home / "builds", s.home / "cache", on_output, limits,
                            build_id=f"b{d.build_id}", source_version=d.source_version or None)

    def undo(self, d: Deploy, error: RoostError) -> None:
        if d.build_id is not None:
            records.finish_build(d.platform, d.build_id, "failed", error=str(error),
                                 tail=d.output_tail, step=getattr(error, "step", ""))


class ScanLockfiles(Step):
    """Match the build's lockfiles against the advisory database."""

    name, does = "scan", "find lockfiles in the build and match them against advisories"
    failure, fatal = "the vulnerability scan failed", False

    def skip_reason(self, d: Deploy) -> str:
        if d.source is None and d.build is None:
            return "no new build"
        return "" if vulnwatch.has_advisories(d.platform) else \
            "the advisory database is empty (`roost vulns db update`)"

    def run(self, d: Deploy) -> None:
        assert d.build is not None
        d.scan = vulnwatch.scan_build(d.platform, d.app, d.build.build_dir)
        if d.scan.new:
            d.step("vulns", f"{len(d.scan.new)} new vulnerable dependencies: "
                   f"`roost vulns {d.app}`")


class AttachAddonConfig(Step):
    """Merge the add-ons' config vars over the app's own."""

    name, does = "addons", "merge the config vars of the app's add-ons"
    failure = "the add-ons' config could not be read"

    def skip_reason(self, d: Deploy) -> str:
        kinds = addons.attached_kinds(d.platform, d.app)
        return "" if kinds else "no add-ons attached"

    def run(self, d: Deploy) -> None:
        d.addon_config = addons.config_of_app(d.platform, d.app)


class CutRelease(Step):
    """Create the next numbered release."""

    name, does = "release", "cut the next release (slug + config vars + process types)"
    failure = "the release could not be created"

    def run(self, d: Deploy) -> None:
        p, extra = d.platform, d.addon_config
        with p.sessions.begin() as session:
            if d.build is not None:
                values = config_vars.as_dict(session, p.cipher, d.app)
                release = releases.create(
                    session, p.cipher, apps.get(session, d.app), slug_key=d.build.slug_key,
                    slug_size=d.build.slug_size, process_types=d.build.process_types,
                    config=values, addon_config=extra, description=f"deploy of build #{d.build_id}",
                    actor=d.actor, build_id=d.build_id,
                    meta={"buildpacks": d.build.buildpacks_used,
                          "lockfiles": d.build.lockfiles, "source_version": d.source_version},
                    commit_sha=d.commit_sha)
            elif d.rollback:
                release = releases.for_rollback(session, p.cipher, d.app, d.rollback_to,
                                                d.actor, addon_config=extra)
            else:
                found = releases.for_config_change(session, p.cipher, d.app, d.actor,
                                                   addon_config=extra)
                if found is None:
                    return
                release = found
            d.release = release.number
            d.config = releases.config_of(release, p.cipher)
        if d.build is not None and d.build_id is not None:
            records.finish_build(p, d.build_id, "succeeded", tail=d.output_tail,
                                 result=d.build, number=d.release)


class PublishAssets(Step):
    """Publish the build's static folder before the release takes traffic."""

    name, does = "assets", "publish static files (public/, static/…) under hashed names"
    failure = "the static assets could not be published"
    needs_release = True

    def skip_reason(self, d: Deploy) -> str:
        if d.source is None and d.build is None:
            return "no new build (the release reuses its build's assets)"
        if d.build is not None and assetflow.assets_dir(d.platform, d.app, d.build) is None:
            return "the build has no static folder"
        return ""

    def run(self, d: Deploy) -> None:
        assert d.build is not None and d.release is not None
        assetflow.publish_release(d.platform, d.app, d.release, d.build, d.emit)


class Activate(Step):
    """Start the release beside the old one, move traffic, drain the old one."""

    name, does = "activate", "start the new processes, health-check them, move traffic"
    failure = "the release did not start"
    needs_release = True

    def skip_reason(self, d: Deploy) -> str:
        return "" if d.platform.runtime is not None else "the runtime does not run here"

    def run(self, d: Deploy) -> None:
        assert d.release is not None
        runtime = d.platform.runtime
        assert runtime is not None
        with d.platform.sessions.begin() as session:
            release = releases.get(session, d.app, d.release)
            session.expunge(release)
        d.step("release", f"starting v{d.release}")
        runtime.activate(d.platform, d.app, release, d.config, d.emit)

    def undo(self, d: Deploy, error: RoostError) -> None:
        if d.release is not None:
            with d.platform.sessions.begin() as session:
                releases.mark(session, releases.get(session, d.app, d.release), "failed",
                              str(error))


class RecordDeployMarker(Step):
    """Mark the deploy for the perf monitor's before/after comparison."""

    name, does = "marker", "mark the deploy for performance regression checks"
    failure, fatal = "the deploy marker could not be recorded", False
    needs_release = True

    def run(self, d: Deploy) -> None:
        from roost.monitor.perf.regress import record_deploy

        with d.platform.sessions.begin() as session:
            record_deploy(session, d.app, f"v{d.release}")


class Watch(Step):
    """Give the app (and its add-ons) automatic uptime monitors."""

    name, does = "watch", "make sure the app and its add-ons have uptime monitors"
    failure, fatal = "the automatic monitors could not be set up", False
    needs_release = True

    def run(self, d: Deploy) -> None:
        watch.ensure_app_monitor(d.platform, d.app)
        addons.ensure_monitors(d.platform, d.app)


class Notify(Step):
    """Tell the maintainers what the deploy found."""

    name, does = "notify", "tell maintainers about new vulnerable dependencies"
    failure, fatal = "the maintainers could not be told", False

    def skip_reason(self, d: Deploy) -> str:
        return ScanLockfiles().skip_reason(d)

    def run(self, d: Deploy) -> None:
        if d.scan is not None and d.scan.new:
            alerts.on_vuln_findings(d.platform, d.app, d.scan.new)


DEPLOY: tuple[Step, ...] = (ReceiveSource(), BuildSlug(), ScanLockfiles(), AttachAddonConfig(),
                            CutRelease(), PublishAssets(), RunAppRecipes(), Activate(),
                            RecordDeployMarker(), Watch(), Notify())
TAIL: tuple[Step, ...] = DEPLOY[3:]


def deploy_source(platform: Platform, app: str, archive: Path, actor: str, emit: Emit,
                  source_version: str = "", locked_app_id: int | None = None,
                  commit_sha: str = "", origin: str = "") -> Release:
    """Build ``archive`` for the app, cut a release and activate it (the whole pipeline).

    The caller may hold the deploy lock already (``locked_app_id``); it is released here.
    ``commit_sha`` (a `git push` or forge webhook) is recorded on the release; ``origin``
    (where the source came from) opens the build's output.
    """
    app_id = locked_app_id or records.acquire_lock(platform, app, records.holder(actor))
    try:
        d = Deploy(platform, app, actor, emit, source=archive, source_version=source_version,
                   app_id=app_id, commit_sha=commit_sha, origin=origin)
        release = run(d, DEPLOY)
        assert release is not None
        return release
    finally:
        records.release_lock(platform, app_id)


def rollback(platform: Platform, app: str, target: int | None, actor: str,
             emit: Emit) -> Release:
    """A new release from an earlier one's slug and config, activated (the pipeline's tail)."""
    app_id = records.acquire_lock(platform, app, records.holder(actor))
    try:
        release = run(Deploy(platform, app, actor, emit, rollback=True, rollback_to=target,
                             app_id=app_id), TAIL)
        assert release is not None
        return release
    finally:
        records.release_lock(platform, app_id)


def after_config_change(platform: Platform, app: str, actor: str,
                        emit: Emit | None = None) -> tuple[int | None, str]:
    """Cut and activate a release for changed config vars (the pipeline's tail).

    Returns the release number (None when the app has no release yet) and an error
    message when activation failed (the previous release keeps serving then).
    """
    d = Deploy(platform, app, actor, emit or (lambda _e: None))
    try:
        release = run(d, TAIL)
    except RoostError as exc:
        return d.release, str(exc)
    return (release.number if release else None), ""


def dry_run(platform: Platform, app: str, actor: str) -> list[PlannedStep]:
    """The steps a deploy of new source to ``app`` would run, and why any would be skipped."""
    with platform.sessions.begin() as session:
        apps.get(session, app)
    return plan(Deploy(platform, app, actor, lambda _e: None, source=Path("(upload)")),
                DEPLOY)

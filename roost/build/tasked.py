"""Builds run by the runtime as tasks elsewhere (swarm), not on this host.

This host does what runs no buildpack code: unpacks the source safely, fetches the
buildpacks, and stores a bundle (source, buildpacks, ``build.json``; no config vars) in the
object store. The runtime's task runs detect, compile and release and uploads the slug and
the ``bin/release`` output. Back here, the slug is unpacked into the build directory the
rest of the pipeline reads (lockfile scan, assets) and the process types are worked out
exactly as for a local build.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path

from roost.build.archive import pack_dir, safe_unpack
from roost.build.fetch import BUILTINS, fetch_buildpack
from roost.build.proc import clean_env
from roost.build.procfile import parse_release_output, process_types
from roost.build.runner import read_buildpacks_file
from roost.build.service import (
    APP_NAME_CHARS,
    STACK,
    BuildLimits,
    BuildResult,
    slug_key,
)
from roost.errors import BuildError, RoostError
from roost.objectstore import ObjectStore
from roost.runtime.interface import BuildJob, TaskBuilds


def cache_key(app: str) -> str:
    """Where an app's build cache lives between task builds."""
    return f"buildcache/{app}.tar.gz"


def _bundle(source_archive: Path, work: Path, buildpacks: list[str], limits: BuildLimits,
            source_version: str, on_output: Callable[[str], None]) -> Path:
    """Source (checked and repacked), buildpacks and ``build.json`` in one tarball."""
    src, bundle = work / "src", work / "bundle"
    try:
        safe_unpack(source_archive, src, max_bytes=limits.max_source_bytes)
    except RoostError as exc:
        raise BuildError(f"source archive refused: {exc.message}", step="source") from exc
    refs = buildpacks or read_buildpacks_file(src)
    bundle.mkdir(parents=True)
    pack_dir(src, bundle / "source", compresslevel=1)
    shutil.rmtree(src)
    env = clean_env(work / "home", limits.path)
    listed = []
    for i, ref in enumerate(refs or list(BUILTINS)):
        if refs:
            on_output(f"-----> Fetching buildpack {ref}")
        fetch_buildpack(ref, bundle / "buildpacks" / str(i), env, limits.timeout_seconds)
        listed.append({"dir": str(i), "name": ref})
    (bundle / "build.json").write_text(json.dumps({
        "buildpacks": listed, "auto": not refs, "stack": STACK,
        "source_version": source_version, "timeout": limits.timeout_seconds,
        "max_slug_bytes": limits.max_slug_bytes, "compresslevel": limits.compresslevel}))
    out = work / "bundle.tar"
    with tarfile.open(out, "w") as tar:
        tar.add(bundle, arcname=".")
    shutil.rmtree(bundle)
    return out


def run_build_in_task(source_archive: Path, app: str, config: dict[str, str],
                      buildpacks: list[str], store: ObjectStore, work_root: Path,
                      on_output: Callable[[str], None], builder: TaskBuilds,
                      limits: BuildLimits | None = None, build_id: str | None = None,
                      source_version: str | None = None) -> BuildResult:
    """Build ``source_archive`` for ``app`` in a task of ``builder``; raise BuildError on
    failure. The result's ``build_dir`` (the unpacked slug) is left for the caller."""
    limits = limits or BuildLimits()
    if not app or not set(app) <= APP_NAME_CHARS:
        raise BuildError(f"app name {app!r} is not valid", step="source")
    build_id = build_id or uuid.uuid4().hex[:16]
    if not set(build_id) <= APP_NAME_CHARS:
        raise BuildError(f"build id {build_id!r} is not valid", step="source")
    started = time.monotonic()
    work = work_root / build_id
    if work.exists():
        raise BuildError(f"build {build_id} already has a work directory at {work}",
                         step="source")
    bundle_key = f"builds/{app}/{build_id}/bundle.tar"
    result_key = f"builds/{app}/{build_id}/result.json"
    try:
        bundle = _bundle(source_archive, work, buildpacks, limits,
                         source_version or build_id, on_output)
        store.put(bundle_key, bundle, content_type="application/x-tar")
        bundle.unlink()
        tail: deque[str] = deque(maxlen=limits.tail_lines)

        def seen(line: str) -> None:
            tail.append(line)
            on_output(line)

        job = BuildJob(app, build_id, bundle_key, slug_key(app, build_id), result_key,
                       cache_key(app), dict(config), limits.resources,
                       limits.timeout_seconds, limits.max_slug_bytes)
        code = builder.build(job, seen)
        if code != 0:
            why = f"build timed out after {limits.timeout_seconds:.0f}s" if code == 124 else \
                next((ln.strip(" !") for ln in reversed(tail) if ln.startswith(" !")),
                     f"the build task exited with status {code}")
            raise BuildError(why, step="compile", output_tail="\n".join(tail))
        return _collect(store, app, build_id, job, work, started, on_output)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise BuildError(f"build of {app} failed: {exc}", step="system") from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        store.delete(bundle_key)
        store.delete(result_key)


def _collect(store: ObjectStore, app: str, build_id: str, job: BuildJob, work: Path,
             started: float, on_output: Callable[[str], None]) -> BuildResult:
    """The task's slug unpacked here, and the process types and lockfiles found in it."""
    info = store.head(job.slug_key)
    if info is None or not store.exists(job.result_key):
        raise BuildError("the build task ended without uploading its slug", step="slug")
    result = json.loads(store.get(job.result_key))
    defaults: dict[str, str] = {}
    for name, text in result.get("release") or []:
        defaults.update(parse_release_output(str(text), str(name)))
    slug = work / "slug.tar.gz"
    store.download(job.slug_key, slug)
    build_dir = work / "app"
    try:  # made by buildpacks: bounded like a source archive, nothing outside build_dir
        safe_unpack(slug, build_dir, max_bytes=10 * max(job.max_slug_bytes, 1 << 20))
    except RoostError as exc:
        raise BuildError(f"the slug the build made is refused: {exc.message}",
                         step="slug") from exc
    finally:
        slug.unlink(missing_ok=True)
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        on_output(f" !     {message}")

    types = process_types(build_dir, defaults, warn=warn)
    on_output(f"-----> Process types: {', '.join(sorted(types))}")
    from roost.monitor.vulns.lockfiles import lockfile_names

    durations = {"total": round(time.monotonic() - started, 3)}
    return BuildResult(build_id, job.slug_key, info.size, info.sha256 or "", types,
                       [str(b) for b in result.get("buildpacks_used") or []], durations,
                       lockfile_names(build_dir), build_dir, warnings=warnings)

"""``run_build``: source archive in, slug in the object store and process types out."""

from __future__ import annotations

import fcntl
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from roost.build.archive import pack_dir, read_ignore_file, safe_unpack
from roost.build.proc import DEFAULT_PATH, clean_env
from roost.build.procfile import parse_release_output, process_types
from roost.build.runner import (
    BuildContext,
    compile_,
    read_buildpacks_file,
    release,
    select_buildpacks,
    source_export,
    write_env_dir,
)
from roost.errors import BuildError, Conflict, RoostError
from roost.objectstore import ObjectStore
from roost.runtime import cgroups, sandbox
from roost.runtime.limits import ResourceLimits
from roost.runtime.users import AUTO

STACK = "roost-1"
BUILD_RESOURCES = ResourceLimits(memory=2 * 1024 ** 3, cpu=1.0, pids=1024)
APP_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class BuildLimits:
    """How long a build may run, how big its slug and source may be, and its PATH."""

    timeout_seconds: float = 15 * 60
    max_slug_bytes: int = 500 * 1024 * 1024
    max_source_bytes: int = 1024 * 1024 * 1024
    tail_lines: int = 30
    compresslevel: int = 6
    path: str = DEFAULT_PATH
    sandbox: bool = True  # ROOST_SANDBOX: each step in a bubblewrap sandbox
    user: str | None = AUTO  # ROOST_APP_USER: builds run as roost-build-APP when root
    sandbox_paths: tuple[str, ...] = ()  # ROOST_SANDBOX_PATHS: more read-only directories
    resources: ResourceLimits = field(default_factory=lambda: BUILD_RESOURCES)  # per build


@dataclass(frozen=True)
class BuildResult:
    """What a successful build produced; ``build_dir`` is kept until the caller removes it."""

    build_id: str
    slug_key: str
    slug_size: int
    slug_sha256: str
    process_types: dict[str, str]
    buildpacks_used: list[str]
    durations: dict[str, float]
    lockfiles: list[str]
    build_dir: Path
    stack: str = STACK
    warnings: list[str] = field(default_factory=list)


def slug_key(app: str, build_id: str) -> str:
    """Where a build's slug lives in the object store."""
    return f"slugs/{app}/{build_id}.tar.gz"


@contextmanager
def app_lock(cache_dir: Path, app: str) -> Iterator[None]:
    """Hold the app's build lock, or raise Conflict when another build of it is running."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".build.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Conflict(f"a build of {app} is already running; wait for it to finish") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _enclose(ctx: BuildContext, app: str, limits: BuildLimits) -> None:
    """Give the build's own directories to its build user and sandbox its steps: they see
    the build, cache, home and buildpack directories, the env dir read-only, and nothing
    else of ROOST_HOME."""
    if not limits.sandbox:
        return
    ctx.identity = sandbox.identity("build", app, limits.user)
    buildpacks = ctx.work_dir / "buildpacks"
    buildpacks.mkdir(parents=True, exist_ok=True)
    home = Path(ctx.env["HOME"])
    sandbox.give([ctx.build_dir, ctx.cache_dir, home, buildpacks, ctx.env_dir], ctx.identity)
    ctx.jail = sandbox.for_build(True, ctx.identity, [ctx.build_dir, ctx.cache_dir, home,
                                                      buildpacks], [ctx.env_dir],
                                 ctx.build_dir, limits.sandbox_paths)
    ctx.cgroup = cgroups.shared(ctx.work_dir.parent.parent).create(app, "build",
                                                                   limits.resources)
    if ctx.cgroup is not None and ctx.jail is not None:
        ctx.jail.cgroup_files = ctx.cgroup.procs_files


def _timed(durations: dict[str, float], name: str, start: float) -> float:
    durations[name] = round(time.monotonic() - start, 3)
    return durations[name]


def run_build(
    source_archive: Path,
    app: str,
    config: dict[str, str],
    buildpacks: list[str],
    store: ObjectStore,
    work_root: Path,
    cache_root: Path,
    on_output: Callable[[str], None],
    limits: BuildLimits | None = None,
    build_id: str | None = None,
    source_version: str | None = None,
) -> BuildResult:
    """Build ``source_archive`` for ``app`` and upload the slug; raise BuildError on failure.

    ``buildpacks`` empty means: the app's ``.buildpacks`` file, else auto-detection.
    Output lines go to ``on_output`` as they are produced. The build directory
    (``work_root/<build_id>/app``) is left for the caller to inspect and remove.
    """
    limits = limits or BuildLimits()
    if not app or not set(app) <= APP_NAME_CHARS:
        raise BuildError(f"app name {app!r} is not valid", step="source")
    build_id = build_id or uuid.uuid4().hex[:16]
    if not set(build_id) <= APP_NAME_CHARS | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ."):
        raise BuildError(f"build id {build_id!r} is not valid", step="source")
    started = time.monotonic()
    work = work_root / build_id
    if work.exists():
        raise Conflict(f"build {build_id} already has a work directory at {work}")
    try:
        return _build(source_archive, app, config, buildpacks, store, work, cache_root / app,
                      on_output, limits, build_id, source_version or build_id, started)
    except OSError as exc:  # disk full, permissions: still one clear build failure
        shutil.rmtree(work, ignore_errors=True)
        raise BuildError(f"build of {app} failed on the build host: {exc}",
                         step="system") from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _build(source_archive: Path, app: str, config: dict[str, str], buildpacks: list[str],
           store: ObjectStore, work: Path, cache_dir: Path, on_output: Callable[[str], None],
           limits: BuildLimits, build_id: str, source_version: str, started: float
           ) -> BuildResult:
    durations: dict[str, float] = {}
    warnings: list[str] = []
    build_dir, home = work / "app", work / "home"
    with app_lock(cache_dir, app):
        t = time.monotonic()
        try:
            safe_unpack(source_archive, build_dir, max_bytes=limits.max_source_bytes)
        except RoostError as exc:
            raise BuildError(f"source archive refused: {exc.message}", step="source") from exc
        _timed(durations, "unpack", t)
        write_env_dir(work / "env", config)
        env = clean_env(home, limits.path, {"STACK": STACK,
                                           "SOURCE_VERSION": source_version})
        ctx = BuildContext(build_dir, cache_dir / "cache", work / "env", work, env,
                           deadline=started + limits.timeout_seconds,
                           timeout=limits.timeout_seconds, on_output=on_output,
                           tail_lines=limits.tail_lines)
        ctx.cache_dir.mkdir(parents=True, exist_ok=True)
        _enclose(ctx, app, limits)
        try:
            chosen = select_buildpacks(ctx, buildpacks or read_buildpacks_file(build_dir))
            for bp, label in chosen:
                on_output(f"-----> {label} app detected ({bp.name})")
                secs = compile_(ctx, bp)
                durations[f"compile:{bp.name}"] = round(secs, 3)
                on_output(f"-----> {bp.name} compiled in {secs:.1f}s")
                source_export(ctx, bp)
            defaults: dict[str, str] = {}
            for bp, _ in chosen:
                defaults.update(parse_release_output(release(ctx, bp), bp.name))

            def warn(message: str) -> None:
                warnings.append(message)
                on_output(f" !     {message}")

            types = process_types(build_dir, defaults, warn=warn)
            on_output(f"-----> Process types: {', '.join(f'{k}' for k in sorted(types))}")
            # The vulnerability package's discovery, so the deploy's scan reads what `roost
            # vulns scan` would; imported here, as `roost deploy` imports this package.
            from roost.monitor.vulns.lockfiles import lockfile_names

            lockfiles = lockfile_names(build_dir)
        finally:
            if ctx.cgroup is not None:
                ctx.cgroup.remove()
    slug = work / "slug.tar.gz"
    t = time.monotonic()
    on_output("-----> Compressing slug")
    ignore = build_dir / ".slugignore"  # made by the build: never read through a link
    size = pack_dir(build_dir, slug, [] if ignore.is_symlink() else read_ignore_file(ignore),
                    limits.compresslevel)
    _timed(durations, "pack", t)
    if size > limits.max_slug_bytes:
        raise BuildError(f"slug is {size / 1e6:.1f} MB, over the limit of "
                         f"{limits.max_slug_bytes / 1e6:.1f} MB; add large files to .slugignore",
                         step="slug")
    on_output(f"       Slug size {size / 1e6:.1f} MB")
    t = time.monotonic()
    key = slug_key(app, build_id)
    try:
        info = store.put(key, slug, content_type="application/gzip",
                         metadata={"app": app, "build": build_id})
    except RoostError as exc:
        raise BuildError(f"slug upload failed: {exc.message}", step="slug") from exc
    _timed(durations, "upload", t)
    slug.unlink()
    _timed(durations, "total", started)
    on_output(f"-----> Build finished in {durations['total']:.1f}s")
    return BuildResult(build_id, key, size, info.sha256 or "", types,
                       [bp.name for bp, _ in chosen], durations, lockfiles, build_dir,
                       warnings=warnings)


def unpack_slug(store: ObjectStore, key: str, target: Path, work: Path) -> Path:
    """Fetch a slug from the store and unpack it safely into ``target`` (the runtime's path)."""
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f".{uuid.uuid4().hex}.tar.gz"
    try:
        store.download(key, tmp)
        safe_unpack(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def prune_slugs(store: ObjectStore, app: str, keep: set[str], keep_latest: int = 2
                ) -> list[str]:
    """Delete the app's slugs not in ``keep`` (keys releases use) nor among the newest few."""
    slugs = sorted(store.list(f"slugs/{app}/"), key=lambda o: o.last_modified, reverse=True)
    newest = {o.key for o in slugs[:keep_latest]}
    doomed = [o.key for o in slugs if o.key not in keep and o.key not in newest]
    for key in doomed:
        store.delete(key)
    return doomed


def prune_caches(cache_root: Path, keep_apps: set[str] | None = None,
                 max_age_days: float | None = None) -> list[str]:
    """Remove build caches of apps not in ``keep_apps`` or unused for ``max_age_days``."""
    removed: list[str] = []
    if not cache_root.is_dir():
        return removed
    now = time.time()
    for entry in sorted(cache_root.iterdir()):
        if not entry.is_dir():
            continue
        gone = keep_apps is not None and entry.name not in keep_apps
        lock = entry / ".build.lock"
        stamp = lock.stat().st_mtime if lock.exists() else entry.stat().st_mtime
        stale = max_age_days is not None and now - stamp > max_age_days * 86400
        if gone or stale:
            try:
                with app_lock(entry, entry.name):
                    shutil.rmtree(entry / "cache", ignore_errors=True)
            except Conflict:
                continue  # a build is using it right now
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def remove_build_dir(result_or_dir: BuildResult | Path) -> None:
    """Delete a build's work directory (the parent of its ``build_dir``)."""
    build_dir = result_or_dir.build_dir if isinstance(result_or_dir, BuildResult) \
        else result_or_dir
    shutil.rmtree(build_dir.parent, ignore_errors=True)


__all__ = ["STACK", "BuildLimits", "BuildResult", "prune_caches", "prune_slugs",
           "remove_build_dir", "run_build", "slug_key", "unpack_slug"]

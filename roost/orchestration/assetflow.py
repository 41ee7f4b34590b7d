"""Static assets in the deploy pipeline: publish before a release takes traffic, hand the
app its ``ASSET_HOST`` and manifest, serve the asset host from the router, collect garbage.

A release records which release's manifest it uses (``meta["assets_release"]``): a config
change or a rollback reuses the manifest of the build it runs, so it always finds its files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from roost.assets import MANIFEST_RELPATH, find_assets_dir, publish
from roost.assets.manifest import app_prefix, manifest_rel_key
from roost.assets.retention import gc, keep_window, stats
from roost.assets.serve import asset_base_url, caddy_asset_routes
from roost.build.service import BuildResult
from roost.core import apps, releases
from roost.errors import InvalidInput
from roost.orchestration.platform import Platform
from roost.runtime.sandbox import write_private
from roost.store.models import App, Release


def base_url(ctx: Platform, app: str) -> str:
    """The app's ``ASSET_HOST``."""
    s = ctx.settings
    return asset_base_url(app, object_store=s.effective_object_store, asset_url=s.asset_url,
                          base_domain=s.base_domain, router_listen=s.router_listen)


def assets_dir(ctx: Platform, app: str, build: BuildResult) -> Path | None:
    """The built app's static folder (``app.json`` or `roost assets set` may name it)."""
    with ctx.sessions.begin() as session:
        override = (apps.get(session, app).settings or {}).get("assets_dir")
    return find_assets_dir(build.build_dir, override)


def publish_release(ctx: Platform, app: str, number: int, build: BuildResult,
                    emit: Callable[[dict[str, Any]], None]) -> None:
    """Publish the built app's static folder for release ``number`` before it serves."""
    folder = assets_dir(ctx, app, build)
    if folder is None:
        return
    started = time.monotonic()
    last = [0.0]

    def progress(p: Any) -> None:
        if time.monotonic() - last[0] > 1 or p.files_done == p.files_total:
            last[0] = time.monotonic()
            emit({"type": "output", "line": f"       assets {p.files_done}/{p.files_total}"
                  f" files, {p.bytes_done // 1024} KB"})

    result = publish(ctx.objects, app, number, folder, base_url=base_url(ctx, app),
                     progress=progress)
    with ctx.sessions.begin() as session:
        release = releases.get(session, app, number)
        release.meta = {**release.meta, "assets_release": number,
                        "asset_host": base_url(ctx, app)}
    emit({"type": "step", "step": "assets", "message":
          f"published {result.files_uploaded} new and {len(result.plan.unchanged)} "
          f"unchanged assets from {folder.name}/ in {time.monotonic() - started:.1f}s"})
    refresh_routes(ctx)


def release_assets(ctx: Platform, release: Release, app_dir: Path
                   ) -> tuple[dict[str, str], dict[str, bytes]]:
    """The asset vars of ``release`` for an app unpacked at ``app_dir`` (``ASSET_HOST``,
    ``ROOST_ASSET_MANIFEST``) and the files to put there (its manifest, by relative path);
    both empty when its build published no assets."""
    number = (release.meta or {}).get("assets_release")
    if not number:
        return {}, {}
    with ctx.sessions.begin() as session:
        app = session.get(App, release.app_id)
        assert app is not None
        name = app.name
    key = app_prefix(name) + manifest_rel_key(int(number))
    env = {"ASSET_HOST": str(release.meta.get("asset_host") or base_url(ctx, name)),
           "ROOST_ASSET_MANIFEST": str(app_dir / MANIFEST_RELPATH)}
    return env, {MANIFEST_RELPATH: ctx.objects.get(key)}


def task_assets(ctx: Platform, release: Release, app_dir: Path
                ) -> tuple[dict[str, str], dict[str, bytes]]:
    """:func:`release_assets` for a task on another machine (swarm): none when the assets
    are in a local directory, whose asset host only this host's router could serve (the
    app then serves its static folder itself, as outside Roost)."""
    if ctx.objects.local_root() is not None:
        return {}, {}
    return release_assets(ctx, release, app_dir)


def prepare(ctx: Platform, release: Release, directory: Path, env: dict[str, str]) -> None:
    """Put the release's asset manifest in its directory and the asset vars in its env."""
    found, files = release_assets(ctx, release, directory)
    for relpath, data in files.items():
        # Root writes into a tree the build made: never through a link it may have planted.
        write_private(directory, relpath, data)
    env.update(found)


def refresh_routes(ctx: Platform) -> None:
    """Serve every app's assets from the router when the store is a local directory.

    The routes name no app (see :func:`caddy_asset_routes`), only custom domains' origins:
    the router reloads when those change, never for a new app or a deploy."""
    runtime = ctx.runtime
    root = ctx.objects.local_root() if ctx.objects.can_serve_public else None
    if runtime is None or root is None:
        return
    port = runtime.router_port
    own = f"{{app}}.{ctx.settings.base_domain}"
    with ctx.sessions.begin() as session:
        extra = {a.name: [f"http://{h}:{port}" for h in runtime.hosts(a)
                          if h != own.format(app=a.name)]
                 for a in apps.list_all(session)}
    runtime.router.set_extra("assets", caddy_asset_routes(
        root, base_domain=ctx.settings.base_domain, own_origins=[f"http://{own}:{port}"],
        extra_origins={name: origins for name, origins in extra.items() if origins}))


def kept_releases(ctx: Platform, app: str, previous: int = 5) -> list[int]:
    """Manifest releases used by the current release and the ``previous`` ones before it."""
    with ctx.sessions.begin() as session:
        found = apps.get(session, app)
        rows = list(session.scalars(select(Release).where(Release.app_id == found.id)))
        current = found.current_release or 0
    numbers = keep_window([r.number for r in rows], current, previous)
    used = {int(r.meta["assets_release"]) for r in rows
            if r.number in numbers and (r.meta or {}).get("assets_release")}
    return sorted(used)


def collect(ctx: Platform, app: str, dry_run: bool = False) -> Any:
    """Delete the app's assets no kept release refers to (older than an hour)."""
    return gc(ctx.objects, app, kept_releases(ctx, app), dry_run=dry_run)


def plan(ctx: Platform, app: str) -> Any:
    """What publishing the current release's static folder would do (a dry run)."""
    runtime = ctx.runtime
    with ctx.sessions.begin() as session:
        found = apps.get(session, app)
        current = releases.current(session, found)
        override = (found.settings or {}).get("assets_dir")
    if current is None or current.slug_key is None:
        raise InvalidInput(f"{app} has no deployed release to publish assets from")
    if runtime is None:
        raise InvalidInput("the runtime is not running in this server")
    directory = runtime.release_dir(app, current.number, current.slug_key)
    folder = find_assets_dir(directory, override)
    if folder is None:
        raise InvalidInput(f"{app} has no public/, static/ or staticfiles/ folder; "
                           f"set one with `roost assets set {app} --dir DIR`")
    return publish(ctx.objects, app, current.number, folder,
                   base_url=base_url(ctx, app), dry_run=True)


def usage(ctx: Platform, app: str) -> Any:
    """Count, total size and last publish of the app's assets."""
    with ctx.sessions.begin() as session:
        apps.get(session, app)
    return stats(ctx.objects, app)

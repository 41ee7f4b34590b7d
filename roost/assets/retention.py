"""Keeping the assets that current and recent releases need, and removing the rest."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from roost.assets.inventory import load_manifest
from roost.assets.manifest import VARIANT_SUFFIX, app_prefix, manifest_release
from roost.assets.source import check_app_name
from roost.errors import ObjectStoreError
from roost.objectstore import ObjectInfo, ObjectStore

DEFAULT_PREVIOUS = 5
MIN_AGE = timedelta(hours=1)


@dataclass
class GcResult:
    """What a garbage collection removed (or would remove, for a dry run)."""

    deleted: list[str] = field(default_factory=list)
    """Full object keys, manifests included."""
    deleted_manifests: list[int] = field(default_factory=list)
    kept: int = 0
    bytes_freed: int = 0
    dry_run: bool = False


@dataclass(frozen=True)
class AssetStats:
    """What ``roost assets APP`` shows."""

    app: str
    files: int
    """Published files, not counting compressed variants and manifests."""
    objects: int
    total_bytes: int
    last_published: datetime | None
    releases: list[int]


def keep_window(releases: Iterable[int], current: int, previous: int = DEFAULT_PREVIOUS,
                ) -> list[int]:
    """``current`` and the ``previous`` newest releases before it."""
    older = sorted({r for r in releases if r < current}, reverse=True)[:max(0, previous)]
    return sorted([current, *older])


def _listing(store: ObjectStore, app: str) -> dict[str, ObjectInfo]:
    prefix = app_prefix(check_app_name(app))
    return {info.key[len(prefix):]: info for info in store.list(prefix)}


def gc(
    store: ObjectStore,
    app: str,
    keep_releases: list[int],
    now: datetime | None = None,
    min_age: timedelta = MIN_AGE,
    dry_run: bool = False,
    workers: int = 16,
) -> GcResult:
    """Delete the app's assets that no kept release refers to and that are older than
    ``min_age``, with the manifests of releases not kept.

    A kept release's manifest that cannot be read stops the collection (ParseError)
    before anything is deleted: without it we cannot know what that release needs.
    """
    now = now or datetime.now(UTC)
    objects = _listing(store, app)
    keep: set[str] = set()
    for kept in sorted(set(keep_releases)):
        manifest = load_manifest(store, app, kept)
        if manifest is not None:
            keep |= manifest.keys()
    result = GcResult(dry_run=dry_run)
    doomed: list[str] = []
    for key, info in sorted(objects.items()):
        number = manifest_release(key)
        old = now - info.last_modified >= min_age
        gone = old and (number not in keep_releases if number is not None else key not in keep)
        if not gone:
            result.kept += 1
            continue
        doomed.append(key)
        result.bytes_freed += info.size
        if number is not None:
            result.deleted_manifests.append(number)
    prefix = app_prefix(app)
    result.deleted = [prefix + key for key in doomed]
    if not dry_run and doomed:
        # Manifests go first: a publish trusts that a stored manifest's keys exist, so an
        # interrupted gc must never leave a manifest whose objects are gone.
        manifests = [k for k in result.deleted if manifest_release(k[len(prefix):]) is not None]
        try:
            for key in manifests:
                store.delete(key)
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                list(pool.map(store.delete, [k for k in result.deleted if k not in manifests]))
        except ObjectStoreError as exc:
            raise ObjectStoreError(f"assets gc of {app} stopped: {exc}") from exc
    return result


def stats(store: ObjectStore, app: str) -> AssetStats:
    """Count and size of the app's published assets, and when it last published."""
    objects = _listing(store, app)
    variants = {key + suffix for key in objects for suffix in VARIANT_SUFFIX.values()}
    releases = sorted(r for r in map(manifest_release, objects) if r is not None)
    files = [k for k in objects if manifest_release(k) is None and k not in variants]
    manifests = [objects[k] for k in objects if manifest_release(k) is not None]
    last = max((i.last_modified for i in manifests), default=None)
    return AssetStats(app, len(files), len(objects),
                      sum(i.size for i in objects.values()), last, releases)

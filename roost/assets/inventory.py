"""What the store already holds under an app's prefix, found with as few requests as possible.

One ``list`` of the prefix gives every key and size. Hashes come, in order of cost, from
the listing itself (the file store reads its sidecars), from the manifests earlier
publishes stored (each records the sha256 and size of every key it wrote, and a key
whose listed size still matches is taken as holding those bytes), and last from a
``head`` of the few keys neither knows. The S3 ETag is never used.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from roost.assets.manifest import (
    VARIANT_SUFFIX,
    Manifest,
    Stored,
    app_prefix,
    manifest_rel_key,
    manifest_release,
)
from roost.errors import NotFound, ParseError
from roost.objectstore import ObjectInfo, ObjectStore

# Manifests read to learn hashes; older ones add little once gc has run.
MANIFESTS_READ = 10


class Inventory:
    """The objects under one app's prefix, keyed relative to it."""

    def __init__(self, store: ObjectStore, app: str, objects: dict[str, ObjectInfo]) -> None:
        self.store = store
        self.prefix = app_prefix(app)
        self.objects = objects
        self.hashes: dict[str, str] = {k: i.sha256 for k, i in objects.items() if i.sha256}
        self.decided: dict[str, dict[str, Stored]] = {}
        self.heads = 0

    def releases(self) -> list[int]:
        """Release numbers with a stored manifest, oldest first."""
        found = (manifest_release(k) for k in self.objects)
        return sorted(r for r in found if r is not None)

    def asset_keys(self) -> list[str]:
        """Every key that is not a manifest."""
        return [k for k in self.objects if manifest_release(k) is None]

    def present(self, key: str) -> bool:
        """Whether ``key`` exists."""
        return key in self.objects

    def size(self, key: str) -> int | None:
        """The listed size of ``key``, or None when absent."""
        info = self.objects.get(key)
        return info.size if info else None

    def sha256(self, key: str) -> str | None:
        """The known sha256 of ``key``; None when absent or unknown."""
        return self.hashes.get(key) if key in self.objects else None

    def variants(self, key: str) -> dict[str, Stored] | None:
        """The variants a manifest recorded for ``key``, when all are still stored."""
        recorded = self.decided.get(key)
        if recorded is None:
            return None
        for enc, stored in recorded.items():
            if self.size(key + VARIANT_SUFFIX[enc]) != stored.size:
                return None
        return recorded

    def learn(self, manifest: Manifest) -> None:
        """Take the hashes a manifest recorded, for keys whose listed size still matches."""
        for entry in manifest.entries.values():
            if self.size(entry.key) != entry.size:
                continue
            self.hashes.setdefault(entry.key, entry.sha256)
            if self.hashes[entry.key] != entry.sha256:
                continue
            self.decided[entry.key] = entry.variants
            for enc, stored in entry.variants.items():
                vkey = entry.key + VARIANT_SUFFIX[enc]
                if stored.sha256 and self.size(vkey) == stored.size:
                    self.hashes.setdefault(vkey, stored.sha256)

    def verify(self, pool: ThreadPoolExecutor, keys: Iterable[str]) -> None:
        """HEAD the given keys that exist but whose hash is still unknown."""
        todo = sorted({k for k in keys if k in self.objects and k not in self.hashes})
        for key, info in zip(todo, pool.map(lambda k: self.store.head(self.prefix + k), todo),
                             strict=True):
            self.heads += 1
            if info is None:
                del self.objects[key]  # deleted since the listing
            elif info.sha256:
                self.hashes[key] = info.sha256


def load_manifest(store: ObjectStore, app: str, release: int) -> Manifest | None:
    """The stored manifest of ``release``, or None when there is none."""
    key = app_prefix(app) + manifest_rel_key(release)
    try:
        return Manifest.loads(store.get(key), key)
    except NotFound:
        return None


def _try_load(store: ObjectStore, app: str, release: int) -> Manifest | None:
    try:
        return load_manifest(store, app, release)
    except ParseError:
        return None  # only a hint here: a damaged manifest costs a few HEADs, no more


def take_inventory(store: ObjectStore, app: str, pool: ThreadPoolExecutor,
                   previous: Manifest | None = None) -> Inventory:
    """List the app's prefix and learn hashes from its latest manifests and ``previous``."""
    prefix = app_prefix(app)
    objects = {info.key[len(prefix):]: info for info in store.list(prefix)}
    inv = Inventory(store, app, objects)
    latest = inv.releases()[-MANIFESTS_READ:]
    manifests = [m for m in pool.map(lambda r: _try_load(store, app, r), latest) if m]
    if previous is not None:
        manifests.append(previous)
    for manifest in sorted(manifests, key=lambda m: m.release, reverse=True):
        inv.learn(manifest)
    return inv

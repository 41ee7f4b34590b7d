"""What the store already holds under an app's prefix, found with as few requests as possible.

A stored manifest is written only after every object it names was uploaded, and ``gc``
deletes a release's manifest before the objects only it used; so the keys, sizes and
sha256s in the latest manifests are known to be in the store. A re-publish therefore
lists only ``manifests/``, reads the latest few, and HEADs just the keys they do not
cover (the changed files). When there is no manifest, or too many keys are uncovered,
one ``list`` of the whole prefix replaces the HEADs, and hashes come from the listing
(the file store reads its sidecars) or from a HEAD of what the listing cannot vouch
for. The S3 ETag is never used.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from roost.assets.manifest import (
    MANIFESTS_DIR,
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
# Above this many keys to check one by one, a listing of the prefix is cheaper.
MAX_HEADS = 100


class Inventory:
    """The objects under one app's prefix, keyed relative to it."""

    def __init__(self, store: ObjectStore, app: str, objects: dict[str, ObjectInfo],
                 complete: bool) -> None:
        self.store = store
        self.prefix = app_prefix(app)
        self.objects = objects
        self.complete = complete
        """Whether ``objects`` is a listing of the whole prefix (else manifests only)."""
        self.hashes: dict[str, str] = {k: i.sha256 for k, i in objects.items() if i.sha256}
        self.decided: dict[str, dict[str, Stored]] = {}
        self.heads = 0

    def list_all(self) -> None:
        """Replace what the manifests told with a listing of the whole prefix."""
        listed = {i.key[len(self.prefix):]: i for i in self.store.list(self.prefix)}
        for key, info in listed.items():
            if info.sha256:
                self.hashes[key] = info.sha256
            elif key in self.objects and self.objects[key].size != info.size:
                self.hashes.pop(key, None)
        self.objects = listed
        self.complete = True

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

    def adopt(self, manifest: Manifest) -> None:
        """Take a stored manifest's keys as present (see the module doc for why)."""
        when = manifest.created_at
        for entry in manifest.entries.values():
            self.objects.setdefault(entry.key, ObjectInfo(entry.key, entry.size, when))
            for enc, stored in entry.variants.items():
                vkey = entry.key + VARIANT_SUFFIX[enc]
                self.objects.setdefault(vkey, ObjectInfo(vkey, stored.size, when))

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
        """Learn whether the given keys exist and what they hold, by listing or HEAD."""
        wanted = set(keys)
        if not self.complete and len(wanted - self.objects.keys()) > MAX_HEADS:
            self.list_all()
        if self.complete:
            todo = sorted(k for k in wanted if k in self.objects and k not in self.hashes)
        else:
            todo = sorted(k for k in wanted if k not in self.hashes)
        for key, info in zip(todo, pool.map(lambda k: self.store.head(self.prefix + k), todo),
                             strict=True):
            self.heads += 1
            if info is None:
                self.objects.pop(key, None)
            else:
                self.objects[key] = info
                if info.sha256:
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
                   previous: Manifest | None = None, full: bool = False) -> Inventory:
    """Learn what the app's prefix holds from its latest manifests (and ``previous``);
    list the whole prefix when ``full`` or when there is no manifest to go by."""
    prefix = app_prefix(app)
    listing = store.list(prefix if full else prefix + MANIFESTS_DIR + "/")
    inv = Inventory(store, app, {i.key[len(prefix):]: i for i in listing}, complete=full)
    latest = inv.releases()[-MANIFESTS_READ:]
    manifests = [m for m in pool.map(lambda r: _try_load(store, app, r), latest) if m]
    if not manifests and not full:
        inv.list_all()
    if previous is not None:
        manifests.append(previous)
    manifests.sort(key=lambda m: m.release, reverse=True)
    if not inv.complete:
        for manifest in manifests:
            if manifest is not previous:  # only a stored manifest vouches for its keys
                inv.adopt(manifest)
    for manifest in manifests:
        inv.learn(manifest)
    return inv

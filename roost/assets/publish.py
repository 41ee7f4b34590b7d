"""Publishing an app's static files to the object store: plan, then upload what is missing.

Stylesheets are published with their references to other files rewritten to those files'
published names (:mod:`roost.assets.cssrefs`); their keys and hashes are of the rewritten bytes.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from roost.assets.compress import compress_variants
from roost.assets.cssrefs import references, rewrite_all
from roost.assets.inventory import Inventory, take_inventory
from roost.assets.manifest import (
    VARIANT_SUFFIX,
    Entry,
    Manifest,
    Stored,
    app_prefix,
    manifest_rel_key,
)
from roost.assets.names import (
    IMMUTABLE,
    REVALIDATE,
    compressible,
    content_type,
    extension,
    has_digest,
    hashed_name,
)
from roost.assets.source import (
    DEFAULT_MAX_FILE_BYTES,
    IN_MEMORY_BYTES,
    SourceFile,
    check_app_name,
    hash_files,
    list_files,
)
from roost.errors import InvalidInput, ObjectStoreError, RoostError
from roost.objectstore import ObjectStore, check_key

# Bigger text files are stored without variants: compressing them would stall a deploy.
MAX_COMPRESS_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Progress:
    """How far an upload has got."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


ProgressCallback = Callable[[Progress], None]


@dataclass
class PlannedFile:
    """One file of the assets folder and what publishing it takes."""

    source: SourceFile
    key: str
    """Relative to the app prefix."""
    upload: bool
    """The object itself must be uploaded (it is missing or holds other bytes)."""
    variants: dict[str, Stored] | None
    """Variants known to be stored already; None when they must be (re)computed."""

    @property
    def needs_work(self) -> bool:
        """Whether anything must be written for this file."""
        return self.upload or (self.variants is None and _wants_variants(self.source))


@dataclass
class Plan:
    """What a publish would do: files to upload, files already stored, keys no longer used."""

    new: list[PlannedFile] = field(default_factory=list)
    unchanged: list[PlannedFile] = field(default_factory=list)
    to_delete: list[str] = field(default_factory=list)
    """Keys (full object keys) this release no longer uses; ``gc`` removes them once no
    kept release refers to them."""

    @property
    def bytes_new(self) -> int:
        """Bytes of the files to upload (variants not counted)."""
        return sum(p.source.size for p in self.new)


@dataclass
class PublishResult:
    """The outcome of :func:`publish`."""

    plan: Plan
    manifest: Manifest
    manifest_key: str
    manifest_path: str | None
    """Relative to the release dir (the app's ``ROOST_ASSET_MANIFEST``), when one was written."""
    files_uploaded: int = 0
    objects_uploaded: int = 0
    """Files plus their compressed variants."""
    bytes_uploaded: int = 0
    duration: float = 0.0
    dry_run: bool = False


def _wants_variants(src: SourceFile) -> bool:
    return compressible(src.path) and src.size <= MAX_COMPRESS_BYTES


def _key_for(app: str, src: SourceFile, inv: Inventory) -> str:
    """Our content-hashed name, or the file's own when it already carries a digest.

    A kept name whose key already holds other bytes is not a real digest (``logo-2024.png``
    changed); it gets our hash too, so old releases keep their bytes.
    """
    key = src.path
    if not has_digest(src.path) or (inv.present(key) and inv.sha256(key) != src.sha256):
        key = hashed_name(src.path, src.sha256)
    try:
        check_key(app_prefix(app) + key)
    except InvalidInput as exc:
        raise InvalidInput(f"assets: cannot publish {src.path!r}: {exc}") from exc
    return key


def make_plan(app: str, sources: list[SourceFile], inv: Inventory) -> Plan:
    """Compare the files with the inventory of the app's prefix."""
    plan = Plan()
    for src in sources:
        key = _key_for(app, src, inv)
        stored = inv.sha256(key) == src.sha256
        variants = inv.variants(key) if stored else None
        item = PlannedFile(src, key, upload=not stored, variants=variants)
        (plan.new if item.needs_work else plan.unchanged).append(item)
    return plan


def _stale(app: str, plan: Plan, inv: Inventory, manifest: Manifest) -> list[str]:
    used = manifest.keys()
    return sorted(app_prefix(app) + k for k in inv.asset_keys() if k not in used)


def _upload_one(store: ObjectStore, app: str, item: PlannedFile, inv: Inventory,
                ) -> tuple[dict[str, Stored], int, int]:
    """Upload one file's variants, then the file; return its variants, objects and bytes."""
    src = item.source
    full = app_prefix(app) + item.key
    ctype = content_type(src.path)
    data: bytes | Path = Path(src.disk_path) if src.body is None else src.body
    if src.body is None and (src.size <= IN_MEMORY_BYTES or _wants_variants(src)):
        data = _read(src)
    objects = nbytes = 0
    variants = dict(item.variants or {})
    if item.variants is None and _wants_variants(src):
        assert isinstance(data, bytes)
        for enc, body in compress_variants(data).items():
            suffix = VARIANT_SUFFIX[enc]
            if not item.upload and inv.size(item.key + suffix) == len(body):
                variants[enc] = Stored(inv.sha256(item.key + suffix), len(body))
                continue  # a variant from an interrupted publish: same source, same bytes
            info = store.put(full + suffix, body, content_type=ctype, cache_control=IMMUTABLE,
                             content_encoding=enc, metadata={"source-sha256": src.sha256})
            variants[enc] = Stored(info.sha256, info.size)
            objects, nbytes = objects + 1, nbytes + len(body)
    if item.upload:
        info = store.put(full, data, content_type=ctype, cache_control=IMMUTABLE)
        if info.sha256 != src.sha256:
            raise InvalidInput(f"assets: {src.path} changed while it was being published")
        objects, nbytes = objects + 1, nbytes + src.size
    return variants, objects, nbytes


def publish(
    store: ObjectStore,
    app: str,
    release: int,
    source_dir: Path,
    *,
    base_url: str,
    release_dir: Path | None = None,
    previous_manifest: Manifest | None = None,
    dry_run: bool = False,
    workers: int = 16,
    progress: ProgressCallback | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    now: datetime | None = None,
    full_check: bool = False,
) -> PublishResult:
    """Publish ``source_dir`` as release ``release`` of ``app``.

    Uploads only what the store lacks, writes the manifest into ``release_dir`` (when
    given) and beside the assets. ``full_check`` lists the whole prefix instead of
    trusting the stored manifests (a repair after objects were deleted by hand).
    Raises InvalidInput for a bad file (named) and ObjectStoreError, in one line, when
    the store fails: the app sees nothing half-published, as the manifest comes last.
    """
    started = time.monotonic()
    check_app_name(app)
    if release < 1:
        raise InvalidInput(f"release must be a positive number, got {release}")
    base = base_url if base_url.endswith("/") else base_url + "/"
    root = source_dir.resolve()
    manifest = Manifest(app, release, now or datetime.now(UTC), base)
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers),
                                thread_name_prefix="assets") as pool:
            inv, plan = _survey(store, app, root, pool, previous_manifest, full_check,
                                max_file_bytes)
            for item in plan.unchanged:
                manifest.entries[item.source.path] = _entry(item, item.variants or {})
            result = PublishResult(plan, manifest, app_prefix(app) + manifest_rel_key(release),
                                   None, dry_run=dry_run)
            if not dry_run:
                _run_uploads(store, app, plan.new, inv, pool, result, progress)
    except RoostError as exc:
        if isinstance(exc, ObjectStoreError):
            raise ObjectStoreError(f"assets of {app} v{release} not published: {exc}") from exc
        raise
    if dry_run:
        for item in plan.new:  # the variants are not known without compressing
            manifest.entries[item.source.path] = _entry(item, item.variants or {})
    plan.to_delete = _stale(app, plan, inv, manifest)
    if not dry_run:
        if release_dir is not None:
            result.manifest_path = manifest.write(release_dir)
        try:
            store.put(result.manifest_key, manifest.dumps(), cache_control=REVALIDATE,
                      content_type="application/json; charset=utf-8")
        except ObjectStoreError as exc:
            raise ObjectStoreError(f"assets of {app} v{release}: manifest not stored: {exc}",
                                   ) from exc
    result.duration = time.monotonic() - started
    return result


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector for a burst of allocations that all survive.

    Planning a few thousand files allocates enough objects to set off a full collection,
    which walks every object in the process (boto's service models alone are tens of
    thousands) to free nothing: a tenth of a second or more, a fifth of a re-publish of
    5,000 files.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _survey(store: ObjectStore, app: str, root: Path, pool: ThreadPoolExecutor,
            previous: Manifest | None, full_check: bool, max_file_bytes: int,
            ) -> tuple[Inventory, Plan]:
    """Hash the folder and learn what the store holds, then plan."""
    with _gc_paused():
        # Reading the stored manifests overlaps with listing and hashing the folder.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="assets-inv") as side:
            pending_inv = side.submit(take_inventory, store, app, pool, previous, full_check)
            sources = hash_files(list_files(root, max_file_bytes), pool)
            # So are reading the stylesheets and finding those that refer to other files.
            linked = _linked_sheets(sources)
            inv = pending_inv.result()
        # Those stylesheets are named after their rewritten bytes, which need the final
        # names of everything else first.
        others = [s for s in sources if s.path not in linked]
        inv.verify(pool, [s.path if has_digest(s.path) else hashed_name(s.path, s.sha256)
                          for s in others])
        # Only a kept name that holds other bytes falls back to our hashed name.
        inv.verify(pool, [hashed_name(s.path, s.sha256) for s in others
                          if has_digest(s.path) and inv.present(s.path)
                          and inv.sha256(s.path) != s.sha256])
        if linked:
            keys = {s.path: _key_for(app, s, inv) for s in others}
            rewritten = {s.path: s for s in _rewrite_sheets(sources, linked, keys)}
            sources = [rewritten.get(s.path, s) for s in sources]
            inv.verify(pool, [hashed_name(s.path, s.sha256) for s in rewritten.values()])
        return inv, make_plan(app, sources, inv)


def _rewritable(src: SourceFile) -> bool:
    """Whether ``src`` is a stylesheet of ours whose references are rewritten (a bundler's
    digested output already refers to its siblings by their final names)."""
    return (extension(src.path) == ".css" and not has_digest(src.path)
            and src.size <= MAX_COMPRESS_BYTES)


def _read(src: SourceFile) -> bytes:
    try:
        with open(src.disk_path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InvalidInput(f"assets: cannot read {src.path}: {exc.strerror}") from exc


def _linked_sheets(sources: list[SourceFile]) -> dict[str, bytes]:
    """The bytes of each stylesheet to rewrite that refers to another file of the set.

    One file after the other: they were just hashed, so they are in the page cache, and a
    task per file would cost more in scheduling than the reads take.
    """
    paths = {s.path for s in sources}
    linked = {}
    for src in sources:
        if _rewritable(src):
            data = _read(src)
            if any(t in paths and t != src.path for t in references(data, src.path)):
                linked[src.path] = data
    return linked


def _rewrite_sheets(sources: list[SourceFile], linked: dict[str, bytes], keys: dict[str, str],
                    ) -> list[SourceFile]:
    """The ``linked`` stylesheets with their references rewritten (see
    :mod:`roost.assets.cssrefs`), as SourceFiles holding the bytes to publish."""
    by_path = {s.path: s for s in sources if s.path in linked}
    hashes: dict[str, str] = {}

    def name_for(path: str, body: bytes) -> str:
        hashes[path] = hashlib.sha256(body).hexdigest()
        return hashed_name(path, hashes[path])

    return [SourceFile(path, by_path[path].disk_path, len(body), hashes[path], body)
            for path, body in rewrite_all(linked, keys, name_for).items()]


def _entry(item: PlannedFile, variants: dict[str, Stored]) -> Entry:
    src = item.source
    return Entry(item.key, src.sha256, src.size, content_type(src.path), variants)


def _run_uploads(store: ObjectStore, app: str, items: Iterable[PlannedFile], inv: Inventory,
                 pool: ThreadPoolExecutor, result: PublishResult,
                 progress: ProgressCallback | None) -> None:
    todo = list(items)
    total = sum(i.source.size for i in todo)
    futures: dict[Future[tuple[dict[str, Stored], int, int]], PlannedFile] = {
        pool.submit(_upload_one, store, app, item, inv): item for item in todo}
    done_files = done_bytes = 0
    pending = set(futures)
    if progress:
        progress(Progress(0, len(todo), 0, total))
    while pending:
        finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
        for fut in finished:
            exc = fut.exception()
            if exc is not None:
                for other in pending:
                    other.cancel()
                raise exc
            item = futures[fut]
            variants, objects, nbytes = fut.result()
            result.manifest.entries[item.source.path] = _entry(item, variants)
            result.files_uploaded += int(item.upload)
            result.objects_uploaded += objects
            result.bytes_uploaded += nbytes
            done_files += 1
            done_bytes += item.source.size
        if progress and finished:
            progress(Progress(done_files, len(todo), done_bytes, total))

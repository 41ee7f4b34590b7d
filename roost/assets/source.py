"""Finding an app's static folder in its build and reading the files in it safely."""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import InvalidInput, ParseError

CANDIDATES = ("public", "static", "staticfiles")
DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024
# Files up to this size are hashed and uploaded from memory; bigger ones stream from disk.
IN_MEMORY_BYTES = 8 * 1024 * 1024
HASH_BUFFER = 1024 * 1024
_APP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class SourceFile:
    """One file of the assets folder: its logical path (``/``-separated) and content hash."""

    path: str
    disk_path: str
    size: int
    sha256: str
    body: bytes | None = field(default=None, repr=False, compare=False)
    """The bytes to publish instead of the file on disk (a stylesheet whose references were
    rewritten); ``size`` and ``sha256`` are then those of ``body``."""


def check_app_name(app: str) -> str:
    """Return ``app`` if it is safe as an object-key segment, else raise InvalidInput."""
    if not _APP_NAME.fullmatch(app):
        raise InvalidInput(f"app name {app!r} must be lower-case letters, digits and '-'")
    return app


def _inside(root: Path, rel: str, what: str) -> Path:
    if Path(rel).is_absolute() or "\\" in rel:
        raise InvalidInput(f"assets dir {rel!r} ({what}) must be a relative path")
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise InvalidInput(f"assets dir {rel!r} ({what}) points outside the app")
    return target


def configured_dir(build_dir: Path) -> str | None:
    """The ``assets.dir`` setting of the app's ``app.json``, if there is one."""
    app_json = build_dir / "app.json"
    if not app_json.is_file():
        return None
    try:
        doc = json.loads(app_json.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ParseError("app.json", None, f"not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ParseError("app.json", exc.lineno, exc.msg) from exc
    assets = doc.get("assets") if isinstance(doc, dict) else None
    if assets is None:
        return None
    if not isinstance(assets, dict) or not isinstance(assets.get("dir"), str) or not assets["dir"]:
        raise ParseError("app.json", None, '"assets" must look like {"dir": "public"}')
    return str(assets["dir"])


def find_assets_dir(build_dir: Path, override: str | None = None) -> Path | None:
    """The folder to publish: ``override``, else ``app.json``'s ``assets.dir``, else the first
    of ``public/``, ``static/``, ``staticfiles/`` in the build; None when there is none.

    A folder that was asked for explicitly but is missing is an error, not a silent skip.
    """
    root = build_dir.resolve()
    for rel, what in ((override, "set with roost assets set"),
                      (configured_dir(root) if override is None else None, "from app.json")):
        if rel is None:
            continue
        target = _inside(root, rel, what)
        if not target.is_dir():
            raise InvalidInput(f"assets dir {rel!r} ({what}) does not exist in the build")
        return target
    for name in CANDIDATES:
        if (root / name).is_dir() and not (root / name).is_symlink():
            return root / name
    return None


def _digest(path: str, buf: bytearray, view: memoryview) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while n := os.readv(fd, (buf,)):
            digest.update(view[:n])
            size += n
    finally:
        os.close(fd)
    return digest.hexdigest(), size


def _inside_root(root: str, target: str) -> bool:
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def list_files(source_dir: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
               ) -> list[tuple[str, str]]:
    """Every regular file under ``source_dir`` (following symlinks that stay inside it), as
    ``(logical path, path on disk)`` pairs sorted by logical path.

    Raises InvalidInput naming the path for a symlink that leads outside the folder, a
    file over ``max_file_bytes``, or anything that is neither a file nor a folder.
    """
    # Plain strings rather than Paths: a few thousand files would spend more time in
    # pathlib than in reading the directories.
    root = str(source_dir.resolve())
    found: list[tuple[str, str]] = []
    # Each folder carries the real paths of its ancestors: a symlink back up would loop.
    stack: list[tuple[str, str, frozenset[str]]] = [(root, "", frozenset({root}))]
    while stack:
        folder, rel_folder, ancestors = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = rel_folder + entry.name
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _inside_root(root, target):
                        raise InvalidInput(
                            f"assets: symlink {rel} points outside the assets folder")
                    if not os.path.exists(target):
                        raise InvalidInput(f"assets: symlink {rel} is broken")
                if entry.is_dir():
                    real = os.path.realpath(entry.path)
                    if real in ancestors:
                        raise InvalidInput(f"assets: symlink {rel} loops back to a parent")
                    stack.append((entry.path, rel + "/", ancestors | {real}))
                    continue
                if not entry.is_file():
                    raise InvalidInput(f"assets: {rel} is not a regular file")
                size = entry.stat().st_size
                if size > max_file_bytes:
                    raise InvalidInput(
                        f"assets: {rel} is {size} bytes, over the limit of {max_file_bytes}")
                found.append((rel, entry.path))
    found.sort()
    return found


def _hash_chunk(files: list[tuple[str, str]]) -> list[SourceFile]:
    buf = bytearray(HASH_BUFFER)  # one buffer per thread: no allocation per file
    view = memoryview(buf)
    out = []
    for rel, path in files:
        try:
            digest, size = _digest(path, buf, view)
        except OSError as exc:
            raise InvalidInput(f"assets: cannot read {rel}: {exc.strerror}") from exc
        out.append(SourceFile(rel, path, size, digest))
    return out


def hash_files(files: list[tuple[str, str]], pool: ThreadPoolExecutor,
               threads: int = 0) -> list[SourceFile]:
    """Hash the files from :func:`list_files` into SourceFiles, in the same order.

    A few long-running tasks, one per core, beat one task per file: hashing releases
    the GIL, but scheduling five thousand small tasks does not.
    """
    n = max(1, min(threads or os.cpu_count() or 2, len(files) or 1))
    parts = list(pool.map(_hash_chunk, [files[i::n] for i in range(n)]))
    # Chunk i holds files i, i+n, i+2n...: interleave them back.
    out: list[SourceFile] = [parts[0][0]] * len(files) if files else []
    for i, part in enumerate(parts):
        out[i::n] = part
    return out

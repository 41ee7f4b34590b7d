"""Packing and safe unpacking of source archives and slugs (gzipped tarballs)."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from roost.errors import InvalidInput


class UnsafeArchive(InvalidInput):
    """An archive entry would land outside the target or is a device/special file."""

    code = "unsafe_archive"


def _check_member(m: tarfile.TarInfo, target: Path, seen_files: set[str]) -> str:
    name = m.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"archive entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"archive entry {name!r} contains '..'")
    norm = "/".join(parts)
    if m.isdev() or m.isfifo() or not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
        raise UnsafeArchive(f"archive entry {name!r} is a device or special file")
    if m.issym():
        link = m.linkname
        if link.startswith("/"):
            raise UnsafeArchive(f"symlink {name!r} points to absolute path {link!r}")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(norm), link))
        if resolved == ".." or resolved.startswith("../"):
            raise UnsafeArchive(f"symlink {name!r} -> {link!r} points outside the target")
    if m.islnk():
        link_parts = [p for p in m.linkname.split("/") if p not in ("", ".")]
        if m.linkname.startswith("/") or ".." in link_parts:
            raise UnsafeArchive(f"hard link {name!r} -> {m.linkname!r} points outside the target")
        link = "/".join(link_parts)
        if link not in seen_files:
            raise UnsafeArchive(f"hard link {name!r} -> {m.linkname!r} targets no earlier file")
    # Defence in depth: a path that resolves (through links already on disk) outside.
    real = os.path.realpath(target / norm) if norm else str(target)
    if real != str(target) and not real.startswith(str(target) + os.sep):
        raise UnsafeArchive(f"archive entry {name!r} resolves outside the target")
    return norm


def safe_unpack(archive: Path, target: Path, max_bytes: int | None = None) -> int:
    """Unpack a (compressed) tarball into ``target``; return the unpacked byte count.

    Refuses, before writing anything for that entry, absolute paths, ``..``, symlinks
    or hard links leading outside ``target``, and device/FIFO entries. ``max_bytes``
    caps the total unpacked size (a decompression bomb fails early).
    """
    target.mkdir(parents=True, exist_ok=True)
    target = Path(os.path.realpath(target))
    total = 0
    seen: set[str] = set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for m in tar:
                norm = _check_member(m, target, seen)
                if m.isfile():
                    total += m.size
                    seen.add(norm)
                    if max_bytes is not None and total > max_bytes:
                        raise UnsafeArchive(f"archive unpacks to more than {max_bytes} bytes")
                if not norm:
                    continue
                m.mode = (m.mode | 0o600) & 0o7755 if not m.issym() else m.mode
                tar.extract(m, target, set_attrs=not m.issym(), filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, tarfile.FilterError):
            raise UnsafeArchive(f"archive entry refused: {exc}") from exc
        raise InvalidInput(f"cannot unpack archive {archive.name}: {exc}") from exc
    return total


def read_ignore_file(path: Path) -> list[str]:
    """Patterns from a ``.slugignore``-style file (blank lines and ``#`` comments skipped)."""
    if not path.is_file():
        return []
    lines = (ln.strip() for ln in path.read_text(errors="replace").splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def ignore_matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """A predicate on relative paths: gitignore-like, ``/``-anchored or matched per name."""
    anchored: list[str] = []
    anywhere: list[str] = []
    for pat in patterns:
        pat = pat.rstrip("/")
        if not pat:
            continue
        if "/" in pat:
            anchored.append(pat.lstrip("/"))
        else:
            anywhere.append(pat)

    def ignored(rel: str) -> bool:
        if any(fnmatch.fnmatchcase(rel, p) for p in anchored):
            return True
        return any(fnmatch.fnmatchcase(part, p) for part in rel.split("/") for p in anywhere)

    return ignored


def walk_files(root: Path, skip: Callable[[str], bool]) -> Iterator[str]:
    """Relative paths of files, symlinks and empty directories under ``root``, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        kept = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if skip(rel):
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                yield rel  # a symlink to a directory is stored as the link itself
            else:
                kept.append(d)
        dirnames[:] = kept
        names = sorted(filenames)
        if not names and not kept and rel_dir:
            yield rel_dir
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if not skip(rel):
                yield rel


def pack_paths(root: Path, paths: Iterable[str], out: Path, compresslevel: int = 6) -> int:
    """Write ``paths`` (relative to ``root``) into a gzipped tarball; return its size."""
    with tarfile.open(out, "w:gz", compresslevel=compresslevel, format=tarfile.PAX_FORMAT) as tar:
        for rel in paths:
            full = root / rel
            if not full.is_symlink() and not full.exists():
                continue  # tracked by git but deleted in the work tree
            info = tar.gettarinfo(str(full), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with full.open("rb") as fh:
                    tar.addfile(info, fh)
            elif info.isdir() or info.issym() or info.islnk():
                tar.addfile(info)
    return out.stat().st_size


def pack_dir(root: Path, out: Path, ignore: Iterable[str] = (), compresslevel: int = 6) -> int:
    """Pack everything under ``root`` except ``.git`` and ``ignore`` patterns; return the size."""
    matcher = ignore_matcher(list(ignore))

    def skip(rel: str) -> bool:
        return rel == ".git" or rel.startswith(".git/") or matcher(rel)

    return pack_paths(root, walk_files(root, skip), out, compresslevel)


def _git_files(root: Path) -> list[str] | None:
    try:
        inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root,
                                capture_output=True, text=True, timeout=30)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return None
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                             capture_output=True, check=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return sorted({p for p in out.stdout.decode().split("\0") if p})


def pack_source(directory: Path, out: Path | None = None) -> Path:
    """Pack an app's source for upload; a git work tree honours its ``.gitignore``.

    Returns the tarball path (``out``, or a new temp file the caller deletes).
    """
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a directory")
    if out is None:
        fd, name = tempfile.mkstemp(prefix="roost-source-", suffix=".tar.gz")
        os.close(fd)
        out = Path(name)
    files = _git_files(directory)
    if files is None:
        pack_dir(directory, out)
    else:
        pack_paths(directory, files, out)
    return out

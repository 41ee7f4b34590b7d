"""Scanning and hashing the assets folder: what is found, under which path, what is refused."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from roost.assets.source import hash_files, list_files
from roost.errors import InvalidInput


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_scan_follows_links_inside_and_hashes_in_order(tmp_path: Path) -> None:
    src = tmp_path / "public"
    files = {f"d{i % 3}/f{i}.css": f"body{{margin:{i}px}}".encode() * (i + 1) for i in range(40)}
    files["empty.txt"] = b""
    files["big.bin"] = bytes(range(256)) * 9000  # over one read buffer
    for rel, data in files.items():
        _write(src / rel, data)
    (src / "linked").symlink_to(src / "d1")  # a folder link that stays inside
    found = list_files(src)
    rels = [rel for rel, _ in found]
    expected = sorted([*files, *(f"linked/{r[3:]}" for r in files if r.startswith("d1/"))])
    assert rels == expected
    with ThreadPoolExecutor(4) as pool:
        hashed = hash_files(found, pool, threads=3)
    assert [f.path for f in hashed] == rels
    for f in hashed:
        data = files[f.path if not f.path.startswith("linked/") else "d1/" + f.path[7:]]
        assert (f.size, f.sha256) == (len(data), hashlib.sha256(data).hexdigest())


def test_scan_refuses_links_out_loops_and_lookalike_siblings(tmp_path: Path) -> None:
    src = tmp_path / "public"
    _write(src / "a.css", b"a{}")
    # A sibling whose name starts with the folder's name is still outside it.
    _write(tmp_path / "public2" / "secret.txt", b"password")
    (src / "sneaky").symlink_to(tmp_path / "public2")
    with pytest.raises(InvalidInput, match="symlink sneaky points outside"):
        list_files(src)
    (src / "sneaky").unlink()
    (src / "sub").mkdir()
    (src / "sub" / "up").symlink_to(src / "sub")
    with pytest.raises(InvalidInput, match="symlink sub/up loops back"):
        list_files(src)
    (src / "sub" / "up").unlink()
    (src / "sub" / "gone.css").symlink_to(src / "missing.css")
    with pytest.raises(InvalidInput, match="symlink sub/gone.css is broken"):
        list_files(src)

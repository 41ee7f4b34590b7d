"""Safe unpacking of uploaded sources and slugs; packing slugs and sources."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from roost.build import UnsafeArchive, pack_dir, pack_source, safe_unpack
from roost.build.archive import ignore_matcher
from roost.errors import InvalidInput
from tests.build.helpers import member, tar_with

UNSAFE = [
    ("absolute path", [member("/etc/evil")]),
    ("dot-dot", [member("app/../../evil")]),
    ("leading dot-dot", [member("../evil")]),
    ("symlink to absolute path", [member("link", tarfile.SYMTYPE, "/etc/passwd")]),
    ("symlink escaping upward", [member("a/link", tarfile.SYMTYPE, "../../outside")]),
    ("write through a symlink", [member("d", tarfile.SYMTYPE, ".."), member("d/evil")]),
    ("hard link outside", [member("etc/passwd"), member("h", tarfile.LNKTYPE, "../etc/passwd")]),
    ("hard link absolute", [member("h", tarfile.LNKTYPE, "/etc/passwd")]),
    ("hard link to nothing earlier", [member("h", tarfile.LNKTYPE, "later")]),
    ("character device", [member("dev", tarfile.CHRTYPE)]),
    ("block device", [member("blk", tarfile.BLKTYPE)]),
    ("fifo", [member("fifo", tarfile.FIFOTYPE)]),
]


REASONS = {"absolute path": "absolute path", "dot-dot": "contains '..'",
           "leading dot-dot": "contains '..'", "symlink to absolute path": "absolute path",
           "hard link to nothing earlier": "no earlier file", "character device": "device",
           "block device": "device", "fifo": "special file"}


@pytest.mark.parametrize(("case", "members"), UNSAFE, ids=[c for c, _ in UNSAFE])
def test_unsafe_entries_are_refused(tmp_path: Path, case: str,
                                    members: list[tarfile.TarInfo]) -> None:
    archive = tar_with(tmp_path / "bad.tar.gz", *members)
    target = tmp_path / "deep" / "target"
    with pytest.raises(UnsafeArchive, match=REASONS.get(case, "outside the target")):
        safe_unpack(archive, target)
    outside = {p.name for p in tmp_path.rglob("*") if target not in p.parents}
    assert "evil" not in outside and "outside" not in outside


def test_safe_archive_with_inner_links_unpacks(tmp_path: Path) -> None:
    archive = tar_with(
        tmp_path / "ok.tar.gz",
        member("app", tarfile.DIRTYPE),
        member("app/bin/tool"),
        member("app/link", tarfile.SYMTYPE, "bin/tool"),
        member("app/bin/up", tarfile.SYMTYPE, "../link"),
        member("app/hard", tarfile.LNKTYPE, "app/bin/tool"),
        data=b"payload",
    )
    size = safe_unpack(archive, tmp_path / "t")
    assert size == len(b"payload")
    assert (tmp_path / "t/app/link").read_bytes() == b"payload"
    assert (tmp_path / "t/app/bin/up").read_bytes() == b"payload"
    assert (tmp_path / "t/app/hard").read_bytes() == b"payload"


def test_size_cap_and_garbage(tmp_path: Path) -> None:
    archive = tar_with(tmp_path / "big.tar.gz", member("a"), member("b"), data=b"x" * 1000)
    with pytest.raises(UnsafeArchive, match="more than"):
        safe_unpack(archive, tmp_path / "t", max_bytes=1500)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball at all")
    with pytest.raises(InvalidInput):
        safe_unpack(junk, tmp_path / "t2")


def test_ignore_patterns() -> None:
    ignored = ignore_matcher(["*.log", "/docs", "tmp/", "data/*.csv"])
    assert ignored("x.log") and ignored("a/b/x.log")
    assert ignored("docs") and ignored("tmp") and ignored("a/tmp")
    assert ignored("data/big.csv") and not ignored("other/big.csv")
    assert not ignored("app.py") and not ignored("documentation")


def _names(archive: Path) -> set[str]:
    with tarfile.open(archive) as tar:
        return {m.name for m in tar}


def test_pack_dir_skips_git_and_ignored(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / ".git").mkdir(parents=True)
    (src / ".git" / "HEAD").write_text("ref")
    (src / "keep.py").write_text("x")
    (src / "big.log").write_text("x")
    (src / "empty").mkdir()
    os.symlink("keep.py", src / "alias.py")
    pack_dir(src, tmp_path / "s.tgz", ["*.log"])
    assert _names(tmp_path / "s.tgz") == {"keep.py", "empty", "alias.py"}
    safe_unpack(tmp_path / "s.tgz", tmp_path / "out")
    assert os.readlink(tmp_path / "out" / "alias.py") == "keep.py"


def test_pack_source_respects_gitignore_in_a_work_tree(tmp_path: Path) -> None:
    src = tmp_path / "app"
    src.mkdir()
    (src / ".gitignore").write_text("secret.env\nbuild/\n")
    (src / "app.py").write_text("print(1)")
    (src / "secret.env").write_text("KEY=1")
    (src / "build").mkdir()
    (src / "build" / "out.bin").write_text("x")
    (src / "new.py").write_text("untracked but not ignored")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", str(src)], check=True)
    subprocess.run([*git, "-C", str(src), "add", "app.py", ".gitignore"], check=True)
    subprocess.run([*git, "-C", str(src), "commit", "-qm", "init"], check=True)
    out = pack_source(src, tmp_path / "src.tgz")
    assert _names(out) == {".gitignore", "app.py", "new.py"}
    (src / ".git").rename(tmp_path / "git-moved")  # no longer a work tree: pack everything
    plain = pack_source(src)
    try:
        assert _names(plain) == {".gitignore", "app.py", "new.py", "secret.env", "build/out.bin"}
    finally:
        plain.unlink()

"""Helpers for build tests: tiny buildpacks and source archives made on the spot."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def make_buildpack(root: Path, name: str, *, detect: str = "echo {name}",
                   compile: str = "true", release: str = "echo '--- {{}}'",
                   export: str | None = None) -> Path:
    """A buildpack directory whose bin/ scripts run the given bash snippets."""
    bp = root / name
    (bp / "bin").mkdir(parents=True)
    for step, body in (("detect", detect), ("compile", compile), ("release", release)):
        script = bp / "bin" / step
        script.write_text("#!/usr/bin/env bash\nset -e\n" + body.format(name=name) + "\n")
        script.chmod(0o755)
    if export is not None:
        (bp / "export").write_text(export + "\n")
    return bp


def make_source(path: Path, files: dict[str, str]) -> Path:
    """A gzipped tarball of ``files`` (relative name -> text)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def tar_with(path: Path, *members: tarfile.TarInfo, data: bytes = b"x") -> Path:
    """A tarball holding exactly ``members`` (regular files get ``data`` as content)."""
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            if m.isfile():
                m.size = len(data)
                tar.addfile(m, io.BytesIO(data))
            else:
                tar.addfile(m)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    """A TarInfo of the given type."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info

"""Make a venv runnable from any directory (argv[1] is the venv).

pip writes absolute shebangs (``#!/build/dir/.venv/bin/python``) and venv links its
interpreter to an absolute host path; both break, or fall outside the slug, once the
slug is unpacked elsewhere. The interpreter is copied in, and each script's shebang is
replaced by a sh/Python polyglot that finds ``python`` next to the script at run time.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

POLYGLOT = (
    "#!/bin/sh\n"
    "'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/'python' \"$0\" \"$@\"\n"
    "' '''\n"
)


def localise_interpreter(bindir: Path) -> None:
    """Replace links to the host interpreter by one copy plus relative links to it."""
    real = Path(os.path.realpath(bindir / "python"))
    if bindir.resolve() in real.parents:
        return
    for name in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"):
        (bindir / name).unlink(missing_ok=True)
    shutil.copy2(real, bindir / "python")
    for name in ("python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"):
        os.symlink("python", bindir / name)


def rewrite_shebangs(venv: Path) -> int:
    """Rewrite scripts whose shebang names this venv's interpreter by absolute path."""
    prefix = str(venv / "bin") + "/python"
    count = 0
    for script in sorted((venv / "bin").iterdir()):
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as fh:
            head = fh.read(len(prefix) + 400)
        if not head.startswith(b"#!"):
            continue
        text = script.read_bytes()
        lines = text.split(b"\n")
        if lines[0].startswith(b"#!" + prefix.encode()):
            body = b"\n".join(lines[1:])
        elif lines[0] == b"#!/bin/sh" and prefix.encode() in lines[1]:
            body = b"\n".join(lines[3:])  # pip's own polyglot for long paths
        else:
            continue
        script.write_bytes(POLYGLOT.encode() + body)
        count += 1
    return count


def main() -> None:
    """Relocate the venv named on the command line."""
    venv = Path(sys.argv[1]).resolve()
    localise_interpreter(venv / "bin")
    print(f"Made {rewrite_shebangs(venv)} scripts relocatable")


if __name__ == "__main__":
    main()

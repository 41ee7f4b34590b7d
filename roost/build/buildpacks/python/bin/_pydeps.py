"""Print a pip requirements file for the app in argv[1] (run by the host interpreter).

Reads, in order of preference: requirements.txt, uv.lock, Pipfile.lock, pyproject.toml.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# First line of the output when pip must not resolve further (requirements files cannot
# carry --no-deps themselves); bin/compile looks for it.
NO_DEPS = "# roost: --no-deps"


def _toml(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        sys.exit(f"reading {path.name} needs Python 3.11 or newer on the host")
    return tomllib.loads(path.read_text())


def from_uv_lock(app: Path) -> list[str]:
    """Pinned packages reachable from the app's own (non-dev) dependencies."""
    lock = _toml(app / "uv.lock")
    packages = {p["name"]: p for p in lock.get("package", [])}
    roots = [p for p in packages.values()
             if set(p.get("source", {})) & {"virtual", "editable"}
             or p.get("source", {}).get("directory") == "."]
    out: dict[str, str] = {}
    todo: list[tuple[str, str]] = [(d["name"], d.get("marker", ""))
                                   for r in roots for d in r.get("dependencies", [])]
    while todo:
        name, marker = todo.pop()
        pkg = packages.get(name)
        if pkg is None or name in out:
            continue
        out[name] = f"{name}=={pkg['version']}" + (f" ; {marker}" if marker else "")
        todo.extend((d["name"], d.get("marker", "")) for d in pkg.get("dependencies", []))
    return sorted(out.values())


def from_pipfile_lock(app: Path) -> list[str]:
    """The ``default`` section of Pipfile.lock as pinned requirements."""
    lock = json.loads((app / "Pipfile.lock").read_text())
    lines = []
    for name, spec in sorted(lock.get("default", {}).items()):
        line = name + spec.get("version", "")
        if spec.get("markers"):
            line += f" ; {spec['markers']}"
        lines.append(line)
    return lines


def main() -> None:
    """Choose the app's dependency source and print requirements lines."""
    app = Path(sys.argv[1])
    if (app / "requirements.txt").is_file():
        print(f"-r {app / 'requirements.txt'}")
        return
    if (app / "uv.lock").is_file():
        lines = from_uv_lock(app)
        extra = [NO_DEPS]  # the lock already lists the whole pinned graph
    elif (app / "Pipfile.lock").is_file():
        lines, extra = from_pipfile_lock(app), [NO_DEPS]
    else:
        project = _toml(app / "pyproject.toml").get("project", {})
        lines, extra = list(project.get("dependencies", [])), []
    print("\n".join(extra + lines))


if __name__ == "__main__":
    main()

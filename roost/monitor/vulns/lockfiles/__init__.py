"""Lockfile parsers, chosen by file name, and discovery of lockfiles in a directory tree."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from roost.errors import InvalidInput
from roost.monitor.vulns.lockfiles.base import Dependency, read_text
from roost.monitor.vulns.lockfiles.npm import parse_package_lock
from roost.monitor.vulns.lockfiles.pnpm import parse_pnpm_lock
from roost.monitor.vulns.lockfiles.python import (
    parse_pipfile_lock,
    parse_poetry_lock,
    parse_uv_lock,
)
from roost.monitor.vulns.lockfiles.requirements import parse_requirements
from roost.monitor.vulns.lockfiles.ruby import parse_gemfile_lock
from roost.monitor.vulns.lockfiles.yarn import parse_yarn_lock

__all__ = ["Dependency", "find_lockfiles", "is_lockfile", "lockfile_names", "parse_lockfile",
           "parse_text"]

Parser = Callable[[str, str], list[Dependency]]

PARSERS: dict[str, Parser] = {
    "Gemfile.lock": parse_gemfile_lock,
    "gems.locked": parse_gemfile_lock,
    "package-lock.json": parse_package_lock,
    "npm-shrinkwrap.json": parse_package_lock,
    "yarn.lock": parse_yarn_lock,
    "pnpm-lock.yaml": parse_pnpm_lock,
    "poetry.lock": parse_poetry_lock,
    "Pipfile.lock": parse_pipfile_lock,
    "uv.lock": parse_uv_lock,
}
_REQUIREMENTS = re.compile(r"^requirements([-_.][\w.-]+)?\.txt$")
# Installed dependencies' own lockfiles are not the app's; neither are tool caches nor a
# buildpack's runtime (.heroku) or bundled gems (vendor/bundle).
SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".tox",
                       ".cache", "vendor", ".heroku", ".npm"})


def is_lockfile(name: str) -> bool:
    """True when a file of this name is one Roost can parse."""
    return name in PARSERS or bool(_REQUIREMENTS.match(name))


def parse_text(name: str, text: str, shown: str | None = None) -> list[Dependency]:
    """Parse lockfile content given its file name (``-r`` includes are not followed)."""
    shown = shown or name
    base = Path(name).name
    if base in PARSERS:
        return PARSERS[base](text, shown)
    if _REQUIREMENTS.match(base):
        return parse_requirements(text, shown)
    raise InvalidInput(f"{name}: not a lockfile Roost knows (see `roost vulns scan --help`)")


def parse_lockfile(path: Path, root: Path | None = None, *,
                   confined: bool = False) -> list[Dependency]:
    """Parse one lockfile; results name it relative to ``root`` when given.

    ``confined`` (an app's build: untrusted) keeps ``-r`` includes inside ``root``.
    Raises ParseError (file and line) when the file cannot be read or parsed.
    """
    shown = str(path.relative_to(root)) if root is not None else str(path)
    text = read_text(path, shown)
    if _REQUIREMENTS.match(path.name):
        return parse_requirements(text, shown, path, frozenset({path.resolve()}),
                                  root if confined else None)
    return parse_text(path.name, text, shown)


def find_lockfiles(root: Path) -> list[Path]:
    """Every lockfile under ``root``, sorted by relative path: the one discovery, used by
    ``roost vulns scan DIR`` and by the build (which records what the deploy scans).

    Skips SKIP_DIRS and symbolic links (a built app is untrusted: a link may point outside
    its tree).
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        here = Path(dirpath)
        found.extend(here / f for f in filenames
                     if is_lockfile(f) and not (here / f).is_symlink())
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def lockfile_names(root: Path) -> list[str]:
    """find_lockfiles as paths relative to ``root`` (``web/package-lock.json``)."""
    return [p.relative_to(root).as_posix() for p in find_lockfiles(root)]

"""Procfile parsing and merging with buildpack default process types."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import yaml

from roost.errors import BuildError

NAME = re.compile(r"^[A-Za-z0-9_-]+$")
LINE = re.compile(r"^([^:#\s][^:]*?)\s*:\s*(.*?)\s*$")


def parse_procfile(text: str, warn: Callable[[str], None] = lambda _m: None) -> dict[str, str]:
    """``name: command`` lines to a dict; bad lines are reported through ``warn`` and skipped.

    Raises BuildError (step ``procfile``) when the file has no valid entry at all.
    """
    types: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m or not NAME.match(m.group(1)) or not m.group(2):
            warn(f"Procfile line {lineno} ignored (want 'name: command', name [A-Za-z0-9_-]+)"
                 f": {line[:80]}")
            continue
        if m.group(1) in types:
            warn(f"Procfile line {lineno}: '{m.group(1)}' defined again; the last one wins")
        types[m.group(1)] = m.group(2)
    if not types:
        raise BuildError("Procfile has no valid entries (want lines like 'web: command')",
                         step="procfile", output_tail=text[-2000:])
    return types


def parse_release_output(text: str, buildpack: str) -> dict[str, str]:
    """``default_process_types`` from a ``bin/release`` YAML document."""
    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise BuildError(f"buildpack {buildpack}: bin/release printed invalid YAML: {exc}",
                         step="release", output_tail=text[-2000:]) from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise BuildError(f"buildpack {buildpack}: bin/release must print a YAML mapping",
                         step="release", output_tail=text[-2000:])
    types = doc.get("default_process_types") or {}
    if not isinstance(types, dict):
        raise BuildError(f"buildpack {buildpack}: default_process_types must be a mapping",
                         step="release", output_tail=text[-2000:])
    return {str(k): str(v) for k, v in types.items() if NAME.match(str(k)) and v}


def process_types(build_dir: Path, defaults: dict[str, str],
                  warn: Callable[[str], None] = lambda _m: None) -> dict[str, str]:
    """The app's process types: the Procfile's, then defaults for types it lacks."""
    procfile = build_dir / "Procfile"
    if procfile.is_symlink():  # made by the build: Roost reads no file through its links
        raise BuildError("the Procfile is a symbolic link; make it a regular file",
                         step="procfile")
    declared = parse_procfile(procfile.read_text(errors="replace"), warn) \
        if procfile.is_file() else {}
    merged = {**defaults, **declared}
    if not merged:
        raise BuildError("no process types: add a Procfile (e.g. 'web: gunicorn app:app')",
                         step="procfile")
    return merged

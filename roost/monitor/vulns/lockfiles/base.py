"""What a lockfile parser returns, and helpers shared by the parsers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.errors import ParseError
from roost.monitor.vulns.versions import normalise_name


@dataclass(frozen=True, slots=True)
class Dependency:
    """One installed package named by a lockfile.

    ``evaluated`` is False when the lockfile gives no exact registry version (a range, a
    git or path source); ``note`` then says why, and ``version`` holds what was written.
    """

    ecosystem: str
    name: str
    version: str
    lockfile: str
    dev: bool = False
    line: int | None = None
    evaluated: bool = True
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """The (ecosystem, normalised name) index key."""
        return (self.ecosystem, self.name)


def dep(ecosystem: str, name: str, version: str, lockfile: str, *, dev: bool = False,
        line: int | None = None, note: str = "") -> Dependency:
    """Build a Dependency with its name normalised; a ``note`` marks it not evaluated."""
    return Dependency(
        ecosystem, normalise_name(ecosystem, name), version, lockfile, dev, line,
        evaluated=not note, note=note,
    )


def read_text(path: Path, shown: str) -> str:
    """Read a lockfile as UTF-8, turning I/O and decoding failures into ParseError."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ParseError(shown, line, "not UTF-8 text") from exc
    except OSError as exc:
        raise ParseError(shown, None, exc.strerror or str(exc)) from exc


def line_of(text: str, needle: str) -> int | None:
    """The 1-based line of the first occurrence of ``needle`` in ``text``."""
    at = text.find(needle)
    return None if at < 0 else text.count("\n", 0, at) + 1


def load_json(text: str, shown: str) -> dict[str, Any]:
    """Parse a JSON object, with the failing line in the error."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(shown, exc.lineno, exc.msg) from exc
    if not isinstance(data, dict):
        raise ParseError(shown, 1, "expected a JSON object at the top level")
    return data


def load_yaml(text: str, shown: str) -> dict[str, Any]:
    """Parse a YAML mapping, with the failing line in the error."""
    import yaml  # only pnpm and yarn berry lockfiles are YAML: other scans skip the import

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ParseError(shown, mark.line + 1 if mark else None, str(exc.problem)) from exc
    except yaml.YAMLError as exc:
        raise ParseError(shown, None, str(exc)) from exc
    if not isinstance(data, dict):
        raise ParseError(shown, 1, "expected a YAML mapping at the top level")
    return data


_TOML_LINE = re.compile(r"at line (\d+)")


def load_toml(text: str, shown: str) -> dict[str, Any]:
    """Parse TOML, with the failing line in the error."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE.search(str(exc))
        raise ParseError(shown, int(m.group(1)) if m else None, str(exc)) from exc


def expect(cond: object, shown: str, line: int | None, reason: str) -> None:
    """Raise ParseError unless ``cond`` holds (a lockfile's structure is not what it should be)."""
    if not cond:
        raise ParseError(shown, line, reason)


_JSON_OBJECT_KEY = re.compile(r'"((?:[^"\\\n]|\\.)*)"[ \t]*:[ \t]*\{')


def object_key_lines(text: str) -> dict[str, int]:
    """Map each JSON key that opens an object on its own line to its first line number.

    One pass over the text, so parsers can name lines without searching per entry.
    """
    lines: dict[str, int] = {}
    line, pos = 1, 0
    for m in _JSON_OBJECT_KEY.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        lines.setdefault(m.group(1), line)
    return lines

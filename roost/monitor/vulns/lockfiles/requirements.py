"""pip's requirements.txt: only ``==`` pins are exact versions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from roost.errors import ParseError
from roost.monitor.vulns.lockfiles.base import Dependency, dep, read_text
from roost.monitor.vulns.versions import PYPI

if TYPE_CHECKING:
    from packaging.requirements import Requirement

_COMMENT = re.compile(r"(^|\s)#.*$")
_INCLUDE = re.compile(r"^(-r|--requirement)(\s+|=)(?P<file>\S+)$")
_EDITABLE = re.compile(r"^(-e|--editable)(\s+|=)(?P<target>\S+)")
# Options that take no part in which versions get installed.
_OPTION = re.compile(r"^(-[cif]|--[a-z-]+)(\s|=|$)")
_HASH = re.compile(r"\s--hash[=\s]\S+")
# The usual line, ``name==1.2.3``: what packaging would make of it is plain, so it is read
# directly (a lockfile holds thousands); anything else goes through packaging's parser.
_SIMPLE_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*(?P<version>[0-9]+(?:\.[0-9]+)*)$"
)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw.rstrip("\r"))
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            out.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        out.append((start, buffer.strip()))
    return out


def _pinned(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def parse_requirements(text: str, shown: str, path: Path | None = None,
                       _seen: frozenset[Path] = frozenset(),
                       within: Path | None = None) -> list[Dependency]:
    """Requirements with ``==`` pins as versions; anything else reported as not evaluated.

    ``-r other.txt`` is followed relative to ``path`` when given; with ``within`` (a built
    app's directory: untrusted) only to files inside it, so an app cannot make the platform
    read, and show back, a file outside the app.
    """
    out: list[Dependency] = []
    for number, line in _logical_lines(text):
        include = _INCLUDE.match(line)
        if include:
            if path is None:
                continue
            target = (path.parent / include.group("file")).resolve()
            if target in _seen:
                continue
            shown_inc = str(Path(shown).parent / include.group("file"))
            if within is not None and not target.is_relative_to(within.resolve()):
                raise ParseError(shown, number,
                                 f"included file {include.group('file')!r} is outside the app")
            if not target.is_file():
                missing = include.group("file")
                raise ParseError(shown, number, f"included file {missing!r} not found")
            out.extend(parse_requirements(read_text(target, shown_inc), shown_inc, target,
                                          _seen | {target}, within))
            continue
        editable = _EDITABLE.match(line)
        if editable:
            where = editable.group("target")
            egg = re.search(r"#egg=([\w.-]+)", where)
            out.append(dep(PYPI, egg.group(1) if egg else where, where, shown, line=number,
                           note="an editable install, not a pinned version"))
            continue
        if _OPTION.match(line):
            continue
        if re.match(r"^[a-z+]+://|^\.{0,2}/", line):
            name = line.split()[0].rstrip("/").rsplit("/", 1)[-1]
            out.append(dep(PYPI, name, line.split()[0], shown, line=number,
                           note="a URL or path, not a pinned version"))
            continue
        spec = _HASH.sub("", " " + line).strip()
        simple = _SIMPLE_PIN.match(spec)
        if simple:
            out.append(dep(PYPI, simple.group("name"), simple.group("version"), shown,
                           line=number))
            continue
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            raise ParseError(shown, number, f"invalid requirement: {exc}") from exc
        version = _pinned(req)
        if req.url:
            out.append(dep(PYPI, req.name, req.url, shown, line=number,
                           note="installed from a URL"))
        elif version is None:
            out.append(dep(PYPI, req.name, str(req.specifier), shown, line=number,
                           note="not pinned with =="))
        else:
            out.append(dep(PYPI, req.name, version, shown, line=number))
    return out

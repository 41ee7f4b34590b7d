"""Yarn's yarn.lock: the classic v1 format and Yarn berry's YAML format."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

from roost.monitor.vulns.lockfiles.base import Dependency, dep, expect, load_yaml
from roost.monitor.vulns.lockfiles.npm import npm_dep
from roost.monitor.vulns.versions import NPM

_V1_FIELD = re.compile(r'^  ("?)([A-Za-z][\w-]*)\1(:| (.*))$')
_V1_SUBFIELD = re.compile(r"^    \S.*$")
_NON_REGISTRY = ("git", "http:", "https:", "file:", "link:", "github:", "portal:")


def _split_spec(spec: str) -> tuple[str, str]:
    """``name@range`` -> (name, range), scoped names (``@scope/pkg@^1``) included."""
    at = spec.find("@", 1)
    return (spec, "") if at < 0 else (spec[:at], spec[at + 1 :])


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _v1_entry(specs: list[str], version: str | None, shown: str, line: int) -> Dependency:
    expect(version, shown, line, "entry without a version")
    assert version is not None
    name, wanted = _split_spec(specs[0])
    if wanted.startswith("npm:"):
        name, _ = _split_spec(wanted[4:])
    elif wanted.startswith(_NON_REGISTRY):
        return dep(NPM, name, version, shown, line=line,
                   note=f"installed from {wanted[:60]!r}, not the registry")
    return npm_dep(name, version, shown, dev=False, line=line)


def parse_yarn_v1(text: str, shown: str) -> list[Dependency]:
    """Every entry of a classic (v1) yarn.lock at its resolved version."""
    out: list[Dependency] = []
    specs: list[str] | None = None
    version: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            if specs is not None:
                out.append(_v1_entry(specs, version, shown, start))
            expect(line.endswith(":"), shown, number, f"expected an entry header: {line[:60]!r}")
            specs = [_unquote(s) for s in line[:-1].split(",") if s.strip()]
            expect(specs, shown, number, "empty entry header")
            version, start = None, number
            continue
        expect(specs is not None, shown, number, "indented line before any entry")
        if _V1_SUBFIELD.match(line):
            continue
        m = _V1_FIELD.match(line)
        expect(m, shown, number, f"unexpected line {line.strip()[:60]!r}")
        assert m is not None
        if m.group(2) == "version":
            version = _unquote(m.group(4) or "")
    if specs is not None:
        out.append(_v1_entry(specs, version, shown, start))
    return out


def _top_level_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            lines.setdefault(_unquote(line.rstrip()[:-1]), number)
    return lines


def _berry_resolution(resolution: str, shown: str, line: int | None) -> Dependency | None:
    name, ref = _split_spec(resolution)
    if ref.startswith("npm:"):
        return npm_dep(name, ref[4:], shown, dev=False, line=line)
    if ref.startswith("patch:"):
        # A patched registry package: "lodash@patch:lodash@npm%3A4.17.21#./fix.patch::...".
        inner = unquote(ref[6:].split("#", 1)[0])
        found = _berry_resolution(inner, shown, line)
        return found
    if ref.startswith(("workspace:", "virtual:")):
        return None
    return dep(NPM, name, ref, shown, line=line,
               note=f"installed from {ref[:60]!r}, not the registry")


def parse_yarn_berry(text: str, shown: str) -> list[Dependency]:
    """Every package of a Yarn berry (v2+) lockfile, from its ``resolution`` fields."""
    data = load_yaml(text, shown)
    expect(isinstance(data.get("__metadata"), Mapping), shown, 1, "no __metadata block")
    lines = _top_level_lines(text)
    out: list[Dependency] = []
    for key, info in data.items():
        if key == "__metadata":
            continue
        line = lines.get(str(key))
        expect(isinstance(info, Mapping), shown, line, f"entry {key!r} is not a mapping")
        resolution = info.get("resolution")
        expect(isinstance(resolution, str), shown, line, f"entry {key!r} has no resolution")
        found = _berry_resolution(resolution, shown, line)
        if found is not None:
            out.append(found)
    return out


def parse_yarn_lock(text: str, shown: str) -> list[Dependency]:
    """A yarn.lock of either format (berry files carry a ``__metadata`` block)."""
    if re.search(r"^__metadata:", text, re.MULTILINE):
        return parse_yarn_berry(text, shown)
    return parse_yarn_v1(text, shown)

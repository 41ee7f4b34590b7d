"""Bundler's Gemfile.lock."""

from __future__ import annotations

import re

from roost.monitor.vulns.lockfiles.base import Dependency, dep, expect
from roost.monitor.vulns.versions import RUBYGEMS

_SECTION = re.compile(r"^[A-Z][A-Z ]*$")
_SOURCE_KEY = re.compile(r"^  [a-z_]+:( .*)?$")
_SPEC = re.compile(r"^    (?P<name>[^\s(]+) \((?P<version>[^)]+)\)$")
_SPEC_DEP = re.compile(r"^      [^\s(]+( \([^)]*\))?!?$")
_SOURCES = {"GEM", "GIT", "PATH", "PLUGIN SOURCE"}


def parse_gemfile_lock(text: str, shown: str) -> list[Dependency]:
    """Gems in the GEM sections at their versions (platform suffix stripped); GIT/PATH gems
    are reported as not evaluated."""
    section = ""
    seen_source = False
    found: dict[tuple[str, str], Dependency] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if not line.startswith(" "):
            expect(_SECTION.match(line), shown, number, f"unexpected line {line[:60]!r}")
            section = line
            seen_source = seen_source or section in _SOURCES
            continue
        expect(section, shown, number, "indented line before any section")
        if section not in _SOURCES:
            continue
        if line.startswith("      "):
            expect(_SPEC_DEP.match(line), shown, number, f"bad dependency line {line.strip()!r}")
            continue
        if line.startswith("    "):
            m = _SPEC.match(line)
            expect(m, shown, number, f"bad gem spec {line.strip()!r}")
            assert m is not None
            # Bundler writes "name (version-platform)"; versions themselves never hold "-".
            version = m.group("version").split("-", 1)[0]
            name = m.group("name")
            note = "" if section == "GEM" else f"installed from a {section} source"
            found.setdefault((name, version), dep(RUBYGEMS, name, version, shown, line=number,
                                                 note=note))
            continue
        expect(_SOURCE_KEY.match(line), shown, number, f"unexpected line {line.strip()!r}")
    expect(seen_source, shown, 1, "no GEM, GIT or PATH section: not a Gemfile.lock")
    return list(found.values())

"""Per-ecosystem version parsing and package-name normalisation."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol

from packaging.version import InvalidVersion, Version

from roost.monitor.vulns.rubygems import parse_gem_version
from roost.monitor.vulns.semver import semver_key

PYPI = "PyPI"
NPM = "npm"
RUBYGEMS = "RubyGems"
ECOSYSTEMS = (PYPI, NPM, RUBYGEMS)

_PEP503 = re.compile(r"[-_.]+")


class Comparable(Protocol):
    """A parsed version: totally ordered within its own kind."""

    def __lt__(self, other: Any, /) -> bool: ...
    def __le__(self, other: Any, /) -> bool: ...
    def __gt__(self, other: Any, /) -> bool: ...
    def __ge__(self, other: Any, /) -> bool: ...


def base_ecosystem(ecosystem: str) -> str:
    """OSV ecosystems may carry a suffix (``Debian:11``); the part before ``:`` names it."""
    return ecosystem.split(":", 1)[0]


def normalise_name(ecosystem: str, name: str) -> str:
    """The index form of a package name: PEP 503 for PyPI, verbatim (trimmed) elsewhere."""
    name = name.strip()
    if ecosystem == PYPI:
        return _PEP503.sub("-", name).lower()
    return name


def _pypi(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=262144)
def parse_version(ecosystem: str, text: str) -> Comparable | None:
    """Parse ``text`` by the rules of ``ecosystem``; None when it is not a version there."""
    if ecosystem == PYPI:
        return _pypi(text)
    if ecosystem == NPM:
        return semver_key(text)
    if ecosystem == RUBYGEMS:
        return parse_gem_version(text)
    return None


@lru_cache(maxsize=262144)
def parse_semver_range_version(text: str) -> Comparable | None:
    """Parse a version of an OSV ``SEMVER`` range (strictly SemVer 2.0)."""
    return semver_key(text)

"""Per-ecosystem version parsing and package-name normalisation.

A parsed version is an order key: a flat list of ints and strings that compares, as a plain
list, exactly as the ecosystem orders its versions. Keys survive a JSON round trip, so an
advisory's versions are parsed once at import and stored ready to compare.
"""

from __future__ import annotations

import re
from functools import lru_cache

from packaging.version import InvalidVersion, Version

from roost.monitor.vulns.rubygems import gem_key
from roost.monitor.vulns.semver import semver_key

PYPI = "PyPI"
NPM = "npm"
RUBYGEMS = "RubyGems"
ECOSYSTEMS = (PYPI, NPM, RUBYGEMS)

_PEP503 = re.compile(r"[-_.]+")

VersionKey = list[int | str]
# PEP 440 pre-release ranks, as packaging orders them: dev-only < a < b < rc < none.
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}
_DEV_ONLY, _NO_PRE = -1, 3


def base_ecosystem(ecosystem: str) -> str:
    """OSV ecosystems may carry a suffix (``Debian:11``); the part before ``:`` names it."""
    return ecosystem.split(":", 1)[0]


def normalise_name(ecosystem: str, name: str) -> str:
    """The index form of a package name: PEP 503 for PyPI, verbatim (trimmed) elsewhere."""
    name = name.strip()
    if ecosystem == PYPI:
        return _PEP503.sub("-", name).lower()
    return name


def pep440_key(text: str) -> VersionKey | None:
    """The PEP 440 order key of ``text`` (None when packaging rejects it).

    ``[epoch, release without trailing zeros..., -1, pre rank, pre n, post?, post n, not dev?,
    dev n, (n, "") or (-1, label) per local segment...]``: packaging's own comparison key,
    flattened (the -1 closes the release, so a shorter release sorts first).
    """
    try:
        v = Version(text)
    except InvalidVersion:
        return None
    release = v.release
    end = len(release)
    while end and release[end - 1] == 0:
        end -= 1
    pre, post, dev = v.pre, v.post, v.dev
    if pre is not None:
        pre_rank, pre_n = _PRE_RANK[pre[0]], pre[1]
    else:
        pre_rank, pre_n = (_DEV_ONLY if post is None and dev is not None else _NO_PRE), 0
    key: VersionKey = [v.epoch, *release[:end], -1, pre_rank, pre_n,
                       0 if post is None else 1, post or 0, 1 if dev is None else 0, dev or 0]
    if v.local is not None:
        # Labels sort below numbers in a local version, numbers numerically.
        for part in v.local.split("."):
            key += (int(part), "") if part.isdigit() else (-1, part)
    return key


@lru_cache(maxsize=16384)
def parse_version(ecosystem: str, text: str) -> VersionKey | None:
    """The order key of ``text`` by the rules of ``ecosystem``; None when it is not a version
    there. Keys of one ecosystem compare as its versions do (never mutate a returned key)."""
    if ecosystem == PYPI:
        return pep440_key(text)
    if ecosystem == NPM:
        return semver_key(text)
    if ecosystem == RUBYGEMS:
        return gem_key(text)
    return None


@lru_cache(maxsize=16384)
def parse_semver_range_version(text: str) -> VersionKey | None:
    """Parse a version of an OSV ``SEMVER`` range (strictly SemVer 2.0)."""
    return semver_key(text)

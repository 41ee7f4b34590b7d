"""SemVer 2.0 versions, ordered as the specification says (build metadata ignored)."""

from __future__ import annotations

import re
from functools import total_ordering

_SEMVER = re.compile(
    r"^v?(?P<major>0|[0-9]+)\.(?P<minor>[0-9]+)\.(?P<patch>[0-9]+)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

# A prerelease identifier: numeric ones sort below alphanumeric ones, numbers numerically.
_PreId = tuple[int, int, str]


@total_ordering
class SemVer:
    """A parsed SemVer 2.0 version; equality and order ignore build metadata."""

    __slots__ = ("major", "minor", "patch", "pre", "build", "_key")

    def __init__(self, major: int, minor: int, patch: int, pre: tuple[str, ...], build: str):
        self.major, self.minor, self.patch = major, minor, patch
        self.pre = pre
        self.build = build
        pre_key: tuple[_PreId, ...] = tuple(
            (0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre
        )
        # A release sorts after every prerelease of the same major.minor.patch.
        self._key = (major, minor, patch, 0 if pre else 1, pre_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key == other._key

    def __lt__(self, other: SemVer) -> bool:
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"SemVer({str(self)!r})"

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        return text + (f"+{self.build}" if self.build else "")


SemVerKey = list[int | str]


def semver_key(text: str) -> SemVerKey | None:
    """The order key of a SemVer 2.0 version; None if ``text`` is not one.

    A flat list ``[major, minor, patch, release?, (kind, number, text) per prerelease id...]``:
    plain lists compare as the versions do (build metadata ignored) and come back unchanged
    from JSON, so keys can be stored at import and compared at scan time.
    """
    m = _SEMVER.match(text.strip())
    if m is None:
        return None
    pre = m.group("pre")
    key: SemVerKey = [int(m.group("major")), int(m.group("minor")), int(m.group("patch")),
                      0 if pre else 1]
    if pre:
        for p in pre.split("."):
            # Numeric identifiers sort below alphanumeric ones, numbers numerically.
            key += (0, int(p), "") if p.isdigit() else (1, 0, p)
    return key


def parse_semver(text: str) -> SemVer | None:
    """Parse ``text`` as SemVer 2.0 (a leading ``v`` allowed); None when it is not one."""
    m = _SEMVER.match(text.strip())
    if m is None:
        return None
    pre = tuple(m.group("pre").split(".")) if m.group("pre") else ()
    return SemVer(
        int(m.group("major")), int(m.group("minor")), int(m.group("patch")), pre,
        m.group("build") or "",
    )

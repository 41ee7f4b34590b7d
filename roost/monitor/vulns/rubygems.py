"""RubyGems versions, ordered by the segment rules of ``Gem::Version``."""

from __future__ import annotations

import re
from functools import total_ordering

_VALID = re.compile(r"^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")

Segment = int | str


def _canonical(segments: list[Segment]) -> tuple[Segment, ...]:
    # Trailing zeros of the release part and of the prerelease part do not count.
    first_str = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    parts = [segments[:first_str], segments[first_str:]]
    out: list[Segment] = []
    for part in parts:
        while part and part[-1] == 0:
            part = part[:-1]
        out.extend(part)
    return tuple(out)


@total_ordering
class GemVersion:
    """A parsed gem version: ``1.0 == 1.0.0``, ``1.0.0.pre < 1.0.0``, ``5.0.0.1 > 5.0.0``."""

    __slots__ = ("text", "segments")

    def __init__(self, text: str, segments: tuple[Segment, ...]) -> None:
        self.text = text
        self.segments = segments

    @property
    def prerelease(self) -> bool:
        """True when any segment is a letter run (``.pre``, ``.rc1``)."""
        return any(isinstance(s, str) for s in self.segments)

    def _cmp(self, other: GemVersion) -> int:
        lhs, rhs = self.segments, other.segments
        for i in range(max(len(lhs), len(rhs))):
            a: Segment = lhs[i] if i < len(lhs) else 0
            b: Segment = rhs[i] if i < len(rhs) else 0
            if a == b:
                continue
            if isinstance(a, str) and isinstance(b, int):
                return -1
            if isinstance(a, int) and isinstance(b, str):
                return 1
            return -1 if a < b else 1  # type: ignore[operator]
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GemVersion) and self.segments == other.segments

    def __lt__(self, other: GemVersion) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        return hash(self.segments)

    def __repr__(self) -> str:
        return f"GemVersion({self.text!r})"

    def __str__(self) -> str:
        return self.text


def parse_gem_version(text: str) -> GemVersion | None:
    """Parse a gem version as ``Gem::Version.new`` would; None when it is not one."""
    text = text.strip()
    if not _VALID.match(text):
        return None
    # Gem::Version reads "1.0-rc1" as "1.0.pre.rc1".
    normal = text.replace("-", ".pre.")
    segments: list[Segment] = [
        int(s) if s.isdigit() else s for s in _SEGMENT.findall(normal)
    ]
    return GemVersion(text, _canonical(segments))


GemKey = list[int | str]


def gem_key(text: str) -> GemKey | None:
    """The order key of a gem version (None when it is not one): plain lists compare as
    ``Gem::Version`` does and come back unchanged from JSON.

    ``Gem::Version`` pads the shorter version with zeros and ranks letters below numbers, so
    each run of zeros is folded into the segment after it: ``(0, zeros, letters)`` or
    ``(2, -zeros, number)``, closed by ``1`` (the zeros that pad forever). Where one version
    has fewer zeros before a segment, the other's zero meets that segment: a number wins
    (hence ``-zeros``), letters lose (hence ``zeros``); the end sorts between the two kinds.
    """
    parsed = parse_gem_version(text)
    if parsed is None:
        return None
    key: GemKey = []
    zeros = 0
    for segment in parsed.segments:
        if isinstance(segment, str):
            key += (0, zeros, segment)
        elif segment == 0:
            zeros += 1
            continue
        else:
            key += (2, -zeros, segment)
        zeros = 0
    key.append(1)
    return key

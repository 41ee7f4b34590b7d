"""Parsing of human durations such as ``30m``, ``1h``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta

from roost.errors import InvalidInput

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse(text: str, maximum: timedelta | None = None) -> timedelta:
    """Turn ``90s``, ``30m``, ``1h``, ``7d`` or ``2w`` into a timedelta."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise InvalidInput(f"invalid duration {text!r}: write a number and a unit, "
                           "e.g. 30m, 1h, 7d")
    value = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if maximum is not None and value > maximum:
        raise InvalidInput(f"duration {text!r} is longer than the {maximum.days} days kept")
    return value

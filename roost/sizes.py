"""Memory sizes as people write them (``512M``, ``2G``): parsed and formatted in one place,
below settings and the runtime, which both read them."""

from __future__ import annotations

import re

from roost.errors import InvalidInput

UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:I?B)?$", re.IGNORECASE)
MIN_MEMORY = 16 * 1024 ** 2


def parse_memory(text: str) -> int:
    """``512M`` -> bytes (K, M, G, T are powers of 1024); InvalidInput when unreadable."""
    match = MEMORY.match(str(text).strip())
    if not match:
        raise InvalidInput(f"memory={text!r}: give a size such as 512M or 2G")
    size = int(float(match.group(1)) * UNITS[match.group(2).upper()])
    if size < MIN_MEMORY:
        raise InvalidInput(f"memory={text!r} is below the minimum of 16M")
    return size


def format_memory(size: int) -> str:
    """Bytes -> the shortest exact ``512M``-style figure."""
    for unit in ("T", "G", "M", "K"):
        if size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]}{unit}"
    return str(size)

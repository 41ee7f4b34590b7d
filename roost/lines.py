"""Reading process output in bounded lines.

App and build output is read in pieces of at most ``MAX_LINE`` bytes: an app that prints
300 MB without a newline must not make Roost hold 300 MB. A longer line is split, and every
piece but the last ends with ``CONTINUES``; a character cut by a piece's end travels whole
with the next piece.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO

MAX_LINE = 64 * 1024  # bytes of one line kept together; longer ones are split
CONTINUES = " [line continues]"


def bounded_lines(stream: IO[bytes], limit: int = MAX_LINE) -> Iterator[str]:
    """The lines of ``stream`` (UTF-8, newline removed), never more than ``limit`` bytes at a
    time: a longer line comes in pieces, each but the last ending with ``CONTINUES``."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    continuing = False
    while raw := stream.readline(limit):
        if raw.endswith(b"\n"):
            if continuing and raw == b"\n":  # the long line ended right at a piece's end
                decoder.decode(b"", final=True)
            else:
                yield decoder.decode(raw[:-1], final=True).rstrip("\r")
            continuing = False
        elif len(raw) < limit:  # the output ended without a newline
            yield decoder.decode(raw, final=True)
        else:
            yield decoder.decode(raw) + CONTINUES
            continuing = True


def split_long(pending: bytes, limit: int = MAX_LINE) -> tuple[list[bytes], bytes]:
    """Cut the pieces a reader may not keep waiting on from ``pending`` (bytes without a
    newline yet): ([pieces ending in CONTINUES], the rest, under ``limit`` bytes)."""
    pieces = []
    while len(pending) > limit:
        cut = limit
        while cut > limit - 4 and pending[cut] & 0xC0 == 0x80:  # not inside a character
            cut -= 1
        pieces.append(pending[:cut] + CONTINUES.encode())
        pending = pending[cut:]
    return pieces, pending

"""Pre-compressed gzip and brotli variants of text assets."""

from __future__ import annotations

import gzip

import brotli

KEEP_RATIO = 0.95
"""A variant is kept only when at most 95 % of the original (whitenoise's rule)."""
# Quality 11 runs at about 1 MB/s and saves only a few per cent over 9, which runs some
# fifteen times faster, so a first publish stays near upload speed. The window is sized
# to the input: brotli's default 4 MB window costs milliseconds to set up per small file.
BROTLI_QUALITY = 9


def _window(size: int) -> int:
    return max(10, min(24, (max(size, 1) - 1).bit_length()))


def compress_variants(data: bytes) -> dict[str, bytes]:
    """The ``br`` and ``gzip`` encodings of ``data`` that are worth keeping."""
    limit = len(data) * KEEP_RATIO
    out = {
        "br": brotli.compress(data, quality=BROTLI_QUALITY, lgwin=_window(len(data))),
        # mtime=0 keeps the bytes reproducible from one publish to the next.
        "gzip": gzip.compress(data, compresslevel=9, mtime=0),
    }
    return {enc: body for enc, body in out.items() if len(body) <= limit}

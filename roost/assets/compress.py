"""Pre-compressed gzip and brotli variants of text assets."""

from __future__ import annotations

import gzip

import brotli

KEEP_RATIO = 0.95
"""A variant is kept only when at most 95 % of the original (whitenoise's rule)."""
# Brotli's best quality runs at about 1 MB/s; above this size quality 9 is nearly as
# small and some twenty times faster, which keeps a first publish near upload speed.
BEST_QUALITY_BYTES = 64 * 1024


def compress_variants(data: bytes) -> dict[str, bytes]:
    """The ``br`` and ``gzip`` encodings of ``data`` that are worth keeping."""
    limit = len(data) * KEEP_RATIO
    quality = 11 if len(data) <= BEST_QUALITY_BYTES else 9
    out = {
        "br": brotli.compress(data, quality=quality),
        # mtime=0 keeps the bytes reproducible from one publish to the next.
        "gzip": gzip.compress(data, compresslevel=9, mtime=0),
    }
    return {enc: body for enc, body in out.items() if len(body) <= limit}

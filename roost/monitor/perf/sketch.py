"""DDSketch latency sketches (1 % relative accuracy) and their compact binary encoding.

The ddsketch protobuf stores every dense bin as a double and drops min, max and sum;
ours keeps only the non-empty bins as varints, so an endpoint-minute costs tens of
bytes, and keeps the exact count, sum, min and max.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from ddsketch import LogCollapsingLowestDenseDDSketch

from roost.errors import InvalidInput

RELATIVE_ACCURACY = 0.01
BIN_LIMIT = 2048
_VERSION = 1
_HEADER = struct.Struct("<BddddI")

Sketch = LogCollapsingLowestDenseDDSketch


def new_sketch() -> Sketch:
    """An empty sketch with Roost's accuracy and bin limit."""
    return LogCollapsingLowestDenseDDSketch(RELATIVE_ACCURACY, bin_limit=BIN_LIMIT)


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise InvalidInput("truncated sketch")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def encode(sketch: Sketch) -> bytes:
    """Serialise ``sketch`` (non-negative values only, as latencies are)."""
    store = sketch._store
    bins = [(store.offset + i, c) for i, c in enumerate(store.bins) if c]
    out = bytearray(
        _HEADER.pack(
            _VERSION,
            float(sketch._count),
            float(sketch._sum),
            float(sketch._min) if sketch._count else 0.0,
            float(sketch._max) if sketch._count else 0.0,
            len(bins),
        )
    )
    _put_varint(out, int(round(sketch._zero_count)))
    previous = 0
    for key, count in bins:
        delta = key - previous
        previous = key
        _put_varint(out, (delta << 1) ^ (delta >> 63))  # zigzag: keys may be negative
        _put_varint(out, int(round(count)))
    return bytes(out)


def decode(data: bytes) -> Sketch:
    """Rebuild a sketch written by :func:`encode`."""
    if len(data) < _HEADER.size or data[0] != _VERSION:
        raise InvalidInput("not a Roost sketch")
    _, count, total, low, high, nbins = _HEADER.unpack_from(data)
    sketch = new_sketch()
    zero, pos = _get_varint(data, _HEADER.size)
    store = sketch._store
    key = 0
    for _ in range(nbins):
        zz, pos = _get_varint(data, pos)
        key += (zz >> 1) ^ -(zz & 1)
        weight, pos = _get_varint(data, pos)
        store.add(key, float(weight))
    sketch._zero_count = float(zero)
    sketch._count = count
    sketch._sum = total
    if count:
        sketch._min = low
        sketch._max = high
    return sketch


def merge_encoded(blobs: Iterable[bytes]) -> Sketch:
    """One sketch of everything in ``blobs`` (each written by :func:`encode`).

    The same as decoding each and merging them, about twice as fast: bins are summed by key
    first, so the week of hour buckets an endpoint page reads builds one sketch, not 168.
    """
    weights: dict[int, int] = {}
    count = total = zero = 0.0
    low, high = float("inf"), float("-inf")
    for data in blobs:
        if len(data) < _HEADER.size or data[0] != _VERSION:
            raise InvalidInput("not a Roost sketch")
        _, n, s, lo, hi, _nbins = _HEADER.unpack_from(data)
        count += n
        total += s
        if n:
            low, high = min(low, lo), max(high, hi)
        values: list[int] = []
        result = shift = 0
        for byte in data[_HEADER.size:]:
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                values.append(result)
                result = shift = 0
            else:
                shift += 7
        if shift or not values:
            raise InvalidInput("truncated sketch")
        zero += values[0]
        key = 0
        pairs = iter(values[1:])
        for zz, weight in zip(pairs, pairs, strict=False):
            key += (zz >> 1) ^ -(zz & 1)
            weights[key] = weights.get(key, 0) + weight
    sketch = new_sketch()
    store = sketch._store
    for key in sorted(weights):
        store.add(key, float(weights[key]))
    sketch._zero_count = zero
    sketch._count = count
    sketch._sum = total
    if count:
        sketch._min, sketch._max = low, high
    return sketch


def quantile(sketch: Sketch, q: float) -> float:
    """The ``q`` quantile of ``sketch`` in its own unit, 0.0 when it is empty."""
    value = sketch.get_quantile_value(q)
    return float(value) if value is not None else 0.0

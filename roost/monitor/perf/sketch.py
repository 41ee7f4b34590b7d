"""DDSketch latency sketches (1 % relative accuracy) and their compact binary encoding.

The ddsketch protobuf stores every dense bin as a double and drops min, max and sum;
ours keeps only the non-empty bins as varints, so an endpoint-minute costs tens of
bytes, and keeps the exact count, sum, min and max.
"""

from __future__ import annotations

import re
import struct
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate

from ddsketch import LogCollapsingLowestDenseDDSketch

from roost.errors import InvalidInput

RELATIVE_ACCURACY = 0.01
BIN_LIMIT = 2048
_VERSION = 1
_HEADER = struct.Struct("<BddddI")

Sketch = LogCollapsingLowestDenseDDSketch
_MAPPING = LogCollapsingLowestDenseDDSketch(RELATIVE_ACCURACY)._mapping


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


_MULTI_BYTE = re.compile(rb"[\x80-\xff]+[\x00-\x7f]")


def _varints(body: bytes) -> list[int]:
    """Every varint in ``body``; runs of one-byte varints (most of them) are copied in C."""
    values: list[int] = []
    pos = 0
    for match in _MULTI_BYTE.finditer(body):
        start, end = match.span()
        values.extend(body[pos:start])
        result = 0
        for i, byte in enumerate(body[start:end]):
            result |= (byte & 0x7F) << (7 * i)
        values.append(result)
        pos = end
    values.extend(body[pos:])
    return values


_UNZIGZAG = [(z >> 1) ^ -(z & 1) for z in range(4096)]


def _unzigzag(z: int) -> int:
    return (z >> 1) ^ -(z & 1)


class _Merged:
    """The bins (key, weight pairs, keys repeating across sketches) and header totals of
    several encoded sketches; list operations run in C, not in a loop per bin."""

    __slots__ = ("keys", "weights", "count", "total", "zero", "low", "high")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.weights: list[int] = []
        self.count = self.total = self.zero = 0.0
        self.low, self.high = float("inf"), float("-inf")

    def add(self, data: bytes) -> None:
        if len(data) < _HEADER.size or data[0] != _VERSION:
            raise InvalidInput("not a Roost sketch")
        _, n, s, lo, hi, _nbins = _HEADER.unpack_from(data)
        self.count += n
        self.total += s
        if n:
            self.low, self.high = min(self.low, lo), max(self.high, hi)
        body = data[_HEADER.size:]
        if not body or body[-1] >= 0x80:
            raise InvalidInput("truncated sketch")
        values = _varints(body)
        self.zero += values[0]
        zigzags, weights = values[1::2], values[2::2]
        if len(zigzags) != len(weights):
            raise InvalidInput("truncated sketch")
        try:
            deltas = list(map(_UNZIGZAG.__getitem__, zigzags))
        except IndexError:  # a jump of over 2048 keys: rare
            deltas = [_unzigzag(z) for z in zigzags]
        self.keys.extend(accumulate(deltas))
        self.weights.extend(weights)

    def sketch(self) -> Sketch:
        summed: dict[int, int] = {}
        for key, weight in zip(self.keys, self.weights, strict=True):
            summed[key] = summed.get(key, 0) + weight
        out = new_sketch()
        store = out._store
        for key in sorted(summed):
            store.add(key, float(summed[key]))
        out._zero_count = self.zero
        out._count = self.count
        out._sum = self.total
        if self.count:
            out._min, out._max = self.low, self.high
        return out


def _merged(blobs: Iterable[bytes]) -> _Merged:
    merged = _Merged()
    for data in blobs:
        merged.add(data)
    return merged


def merge_encoded(blobs: Iterable[bytes]) -> Sketch:
    """One sketch of everything in ``blobs`` (each written by :func:`encode`).

    The same as decoding each and merging them, about twice as fast: bins are summed by key
    first, so the week of hour buckets an endpoint page reads builds one sketch, not 168.
    """
    return _merged(blobs).sketch()


def quantiles_encoded(blobs: Iterable[bytes], qs: Iterable[float]) -> list[float]:
    """The ``qs`` quantiles of everything in ``blobs``, as :func:`quantile` of
    :func:`merge_encoded` gives them, without building the sketch (a week's chart needs 168)."""
    merged = _merged(blobs)
    pairs = sorted(zip(merged.keys, merged.weights, strict=True))
    if pairs and pairs[-1][0] - pairs[0][0] >= BIN_LIMIT:  # the sketch would collapse bins
        sketch = merged.sketch()
        return [quantile(sketch, q) for q in qs]
    running = list(accumulate(list(zip(*pairs, strict=True))[1])) if pairs else []
    out = []
    for q in qs:
        rank = q * (merged.count - 1) - merged.zero
        if not merged.count or rank < 0:
            out.append(0.0)
            continue
        # the first bin whose running count passes the rank, as DDSketch's key_at_rank
        at = min(bisect_right(running, rank), len(pairs) - 1)
        out.append(float(_MAPPING.value(pairs[at][0])))
    return out


def quantile(sketch: Sketch, q: float) -> float:
    """The ``q`` quantile of ``sketch`` in its own unit, 0.0 when it is empty."""
    value = sketch.get_quantile_value(q)
    return float(value) if value is not None else 0.0

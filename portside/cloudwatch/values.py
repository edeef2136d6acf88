"""The values behind one stored datapoint, kept for percentiles; pure.

A stored datapoint (one metric, one resolution bucket, one unit) holds count, sum, minimum and
maximum, and `vals`: the values seen, as (value, count) pairs sorted by value, packed as
little-endian doubles. Two encodings save room where the common case allows:

    None     every value equals the minimum (a single `Value`: 1 pair implied)
    b""      the values are unknown (published as a StatisticSet only)

A bucket that collects more than `MAX_PAIRS` distinct values is folded into logarithmic bins
1% wide (a value stands for its bin's geometric middle), so a percentile stays within about
1% of the exact one while a bucket stays bounded. Percentiles are nearest-rank over the
weighted values: p0 is the minimum, p100 the maximum.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

Pairs = list[tuple[float, float]]
MAX_PAIRS = 1024
_GAMMA = 1.02
_LOG_GAMMA = math.log(_GAMMA)


def encode(pairs: Pairs) -> bytes:
    flat: list[float] = []
    for value, count in pairs:
        flat += (value, count)
    return struct.pack(f"<{len(flat)}d", *flat)


def decode(blob: bytes | None, count: float, minimum: float) -> Pairs:
    if blob is None:
        return [(minimum, count)]
    if not blob:
        return []
    flat = struct.unpack(f"<{len(blob) // 8}d", blob)
    return list(zip(flat[0::2], flat[1::2], strict=True))


def of(values: Iterable[tuple[float, float]]) -> Pairs:
    """Pairs from (value, count), equal values joined, sorted, folded past MAX_PAIRS."""
    joined: dict[float, float] = {}
    for value, count in values:
        joined[value] = joined.get(value, 0.0) + count
    pairs = sorted(joined.items())
    return _fold(pairs) if len(pairs) > MAX_PAIRS else pairs


def stored(pairs: Pairs, minimum: float, maximum: float) -> bytes | None:
    """`pairs` as a row keeps them (None when every value is the minimum)."""
    if len(pairs) == 1 and minimum == maximum == pairs[0][0]:
        return None
    return encode(pairs)


def merge(a: bytes | None, a_count: float, a_min: float, b: bytes | None, b_count: float,
          b_min: float) -> bytes | None:  # fmt: skip
    """The values of two datapoints of one bucket, as stored (the SQL upsert calls this)."""
    if a == b"" and b == b"":
        return b""
    pairs = of([*decode(a, a_count, a_min), *decode(b, b_count, b_min)])
    low = min(a_min, b_min)
    high = max(v for v, _ in pairs) if pairs else low
    return stored(pairs, low, high) if pairs else b""


def _fold(pairs: Pairs) -> Pairs:
    bins: dict[int, float] = {}
    for value, count in pairs:
        bins[_bin(value)] = bins.get(_bin(value), 0.0) + count
    return sorted((_middle(key), count) for key, count in bins.items())


def _bin(value: float) -> int:
    if value == 0:
        return 0
    index = math.ceil(math.log(abs(value)) / _LOG_GAMMA) + 100_000
    return index if value > 0 else -index


def _middle(key: int) -> float:
    if key == 0:
        return 0.0
    index = abs(key) - 100_000
    value = 2 * _GAMMA**index / (_GAMMA + 1)
    return value if key > 0 else -value


def percentile(pairs: Pairs, p: float) -> float | None:
    """The p-th percentile of the weighted values (nearest rank), None when none known."""
    total = sum(c for _, c in pairs)
    if total <= 0:
        return None
    if p <= 0:
        return pairs[0][0]
    rank = math.ceil(p / 100.0 * total - 1e-9)
    seen = 0.0
    for value, count in pairs:
        seen += count
        if seen >= rank:
            return value
    return pairs[-1][0]


class Merged:
    """SQLite aggregate `cw_values(vals, count, min)`: the merged values of the rows of one
    roll-up bucket, as stored."""

    def __init__(self) -> None:
        self.pairs: Pairs = []
        self.unknown = True

    def step(self, blob: bytes | None, count: float, low: float) -> None:
        found = decode(blob, count, low)
        if found:
            self.unknown = False
            self.pairs += found

    def finalize(self) -> bytes | None:
        if self.unknown:
            return b""
        pairs = of(self.pairs)
        return stored(pairs, pairs[0][0], pairs[-1][0])

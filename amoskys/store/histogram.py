"""Log-spaced duration histograms: percentiles of millions of durations from a few rows.

A duration ``d`` falls in bucket ``floor(log(d / 1 ms) / log(1.02))``; everything under a
millisecond is bucket ``-1``. Each bucket is 2 % wide, so a percentile read back from the
counts (interpolated inside its bucket) is within 2 % of the exact one, while counts from
different days simply add up.
"""

from __future__ import annotations

import math
from typing import Mapping

SMALLEST = 0.001  # seconds: the lower edge of bucket 0
RATIO = 1.02
_LOG_RATIO = math.log(RATIO)

Histogram = Mapping[int, int]  # bucket -> count


def bucket_of(seconds: float) -> int:
    """The bucket a duration is counted in (``-1`` for under a millisecond, NaN, negatives)."""
    if not seconds >= SMALLEST:
        return -1
    return math.floor(math.log(seconds / SMALLEST) / _LOG_RATIO)


def bounds(bucket: int) -> tuple[float, float]:
    """The ``[low, high)`` seconds a bucket covers."""
    if bucket < 0:
        return 0.0, SMALLEST
    low = SMALLEST * RATIO**bucket
    return low, low * RATIO


def _value_at(ordered: list[tuple[int, int]], rank: int) -> float:
    """The ``rank``-th (0-based) smallest duration, spread evenly inside its bucket."""
    seen = 0
    for bucket, count in ordered:
        if rank < seen + count:
            low, high = bounds(bucket)
            return low + (high - low) * (rank - seen + 0.5) / count
        seen += count
    raise IndexError(rank)


def percentile(histogram: Histogram, q: float) -> float | None:
    """The ``q`` quantile (0..1), interpolated between ranks like ``statistics.quantiles``
    with ``method="inclusive"``; None for an empty histogram."""
    ordered = sorted((b, n) for b, n in histogram.items() if n > 0)
    total = sum(n for _, n in ordered)
    if total == 0:
        return None
    position = (total - 1) * q
    lower = math.floor(position)
    value = _value_at(ordered, lower)
    fraction = position - lower
    if fraction and lower + 1 < total:
        value += fraction * (_value_at(ordered, lower + 1) - value)
    return value

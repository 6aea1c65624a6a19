"""Percentiles and ratios, the same way in every benchmark."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ratio(value: float, ref: float) -> float:
    """``value / ref``, NaN when the reference is zero (a failed measurement)."""
    return value / ref if ref else float("nan")


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    """n, p50, p95 and mean of latencies in milliseconds."""
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 3),
            "p95_ms": round(percentile(ms, 0.95), 3), "mean_ms": round(statistics.fmean(ms), 3)}

"""Report math on per-iteration times, as trtexec does (samples/common/sampleReporting.cpp).

- Percentiles: trtexec's ``findPercentile`` on the ascending times: drop
  ``exclude = int((1 - p / 100) * n)`` from the top and take index
  ``max(n - 1 - exclude, 0)``, evaluated in float32 as the C++ does. This is a
  nearest-rank rule whose float32 rounding makes p99 the maximum for every
  n <= 100 (1 - 0.99f is just under 0.01, so 0.0099999 * 100 truncates to 0).
- Median: the middle value, or the mean of the two middle values.
- Coefficient of variation: population standard deviation / mean. trtexec
  prints it in percent and warns above 1 % (``kUNSTABLE_PERF_REPORTING_THRESHOLD``).
- Throughput: queries / total host wall time; images = queries x batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PERCENTILES = (90.0, 95.0, 99.0)
COV_WARN_THRESHOLD = 0.01  # trtexec warns when CoV > 1 %


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile by trtexec's nearest-rank rule (float32 arithmetic)."""
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile {p} is not in [0, 100]")
    if len(values) == 0:
        return math.inf
    ordered = sorted(values)
    n = len(ordered)
    p32 = np.float32(p)
    keep_fraction = np.float32(1.0) - p32 / np.float32(100.0)
    exclude = int(np.float32(keep_fraction * np.float32(n)))
    return float(ordered[max(n - 1 - exclude, 0)])


def median(values: Sequence[float]) -> float:
    """Middle value, or the mean of the two middle values for an even count."""
    if len(values) == 0:
        return math.inf
    ordered = sorted(values)
    m = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[m])
    return (ordered[m - 1] + ordered[m]) / 2.0


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (inf for no values, as trtexec)."""
    if len(values) == 0:
        return math.inf
    return math.fsum(values) / len(values)


def cov(values: Sequence[float]) -> float:
    """Coefficient of variation: population std / mean (a fraction; 0 for no values)."""
    if len(values) == 0:
        return 0.0
    mu = mean(values)
    if mu == 0.0:
        return math.inf
    variance = math.fsum((v - mu) ** 2 for v in values) / len(values)
    return math.sqrt(variance) / mu


def summarize(values: Sequence[float], percentiles: Sequence[float] = PERCENTILES) -> dict:
    """min / max / mean / median / pNN / std of ``values`` (same unit in, same unit out)."""
    if len(values) == 0:
        raise ValueError("no timings to summarise")
    out = {
        "min": float(min(values)),
        "max": float(max(values)),
        "mean": mean(values),
        "median": median(values),
    }
    for p in percentiles:
        out[f"p{p:g}"] = percentile(values, p)
    out["std"] = cov(values) * out["mean"]
    return out


def throughput(queries: int, batch: int, wall_s: float) -> dict:
    """Queries/s and images/s for ``queries`` runs of ``batch`` images over ``wall_s`` seconds.

    With several streams, ``queries`` is the total over all streams (each stream
    contributes its own iterations), and ``wall_s`` spans the first start to the last end.
    """
    if wall_s <= 0:
        raise ValueError(f"wall time must be positive, got {wall_s}")
    qps = queries / wall_s
    return {"qps": qps, "images_per_s": qps * batch}


def cov_warning(
    value: float, threshold: float = COV_WARN_THRESHOLD, what: str = "latency"
) -> str | None:
    """A trtexec-style warning when the CoV exceeds ``threshold`` (both fractions), else None."""
    if value > threshold:
        return (
            f"{what} is unstable: coefficient of variation {value * 100:.2f}% > "
            f"{threshold * 100:g}%; close other work, pin threads or lengthen --duration"
        )
    return None

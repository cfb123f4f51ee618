"""Report math on synthetic timings: trtexec's nearest-rank percentiles, median, CoV, throughput."""

from __future__ import annotations

import math
import random

import pytest

from ptx.benchmarks.harness import stats


def shuffled(n: int, seed: int = 0) -> list[float]:
    values = [float(v) for v in range(1, n + 1)]
    random.Random(seed).shuffle(values)
    return values


def test_percentiles_of_ten_match_hand_computed_nearest_rank() -> None:
    v = shuffled(10)
    # exclude = int((1 - p/100) * 10): p90 -> 1 (index 8), p95 -> 0, p99 -> 0, p50 -> 5 (index 4)
    assert stats.percentile(v, 90) == 9.0
    assert stats.percentile(v, 95) == 10.0
    assert stats.percentile(v, 99) == 10.0
    assert stats.percentile(v, 50) == 5.0
    assert stats.percentile(v, 0) == 1.0
    assert stats.percentile(v, 100) == 10.0


def test_p99_of_a_hundred_is_the_maximum_as_in_trtexec() -> None:
    # In float32, 1 - 0.99f = 0.0099999905, times 100 truncates to 0: nothing is excluded,
    # where a textbook nearest rank (ceil(0.99 * 100) = 99) would give 99.
    v = shuffled(100)
    assert stats.percentile(v, 99) == 100.0
    assert stats.percentile(v, 95) == 95.0
    assert stats.percentile(v, 90) == 90.0
    assert stats.percentile(shuffled(101), 99) == 100.0  # 0.0099999905 * 101 -> 1 excluded
    assert stats.percentile(shuffled(1000), 99) == 991.0  # 9.99999 -> 9 excluded


def test_percentile_edges() -> None:
    assert stats.percentile([3.5], 99) == 3.5
    assert stats.percentile([], 50) == math.inf
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_median_mean_and_summary() -> None:
    assert stats.median([4.0, 1.0, 3.0]) == 3.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    s = stats.summarize([2.0, 4.0, 6.0, 8.0])
    assert (s["min"], s["max"], s["mean"], s["median"]) == (2.0, 8.0, 5.0, 5.0)
    assert s["p90"] == 8.0 and s["p99"] == 8.0
    assert s["std"] == pytest.approx(math.sqrt(5.0))
    with pytest.raises(ValueError):
        stats.summarize([])


def test_coefficient_of_variation_is_population_std_over_mean() -> None:
    assert stats.cov([5.0, 5.0, 5.0]) == 0.0
    assert stats.cov([1.0, 3.0]) == pytest.approx(0.5)  # std 1, mean 2
    assert stats.cov([]) == 0.0
    assert stats.cov([0.0, 0.0]) == math.inf


def test_cov_warning_threshold() -> None:
    assert stats.cov_warning(0.009) is None
    assert stats.cov_warning(0.01) is None  # trtexec warns strictly above 1 %
    msg = stats.cov_warning(0.025)
    assert msg is not None and "2.50%" in msg and "1%" in msg
    assert stats.cov_warning(0.025, threshold=0.05) is None


def test_throughput_counts_batch_and_all_streams_queries() -> None:
    t = stats.throughput(queries=100, batch=8, wall_s=2.0)
    assert t == {"qps": 50.0, "images_per_s": 400.0}
    # two streams of 60 queries each over 3 s, batch 4
    t = stats.throughput(queries=2 * 60, batch=4, wall_s=3.0)
    assert t["qps"] == pytest.approx(40.0) and t["images_per_s"] == pytest.approx(160.0)
    with pytest.raises(ValueError):
        stats.throughput(1, 1, 0.0)

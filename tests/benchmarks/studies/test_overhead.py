"""Runtime-overhead and agreement scripts: interleaving, ratio math, real tiny-model runs."""

from __future__ import annotations

import pytest

from ptx.benchmarks.studies import agreement, runtime_overhead


def test_rounds_interleave_and_rotate_every_side() -> None:
    calls: list[str] = []
    sides = {name: (lambda n=name: calls.append(n)) for name in ("a", "b", "c")}
    times = runtime_overhead.time_interleaved(sides, seconds=0.2, rounds=4, settle_s=0)
    assert set(times) == {"a", "b", "c"} and all(len(v) >= 4 for v in times.values())
    blocks = [calls[6]]  # after two sizing calls each
    for name in calls[7:]:
        if name != blocks[-1]:
            blocks.append(name)
    # a Latin square: round r starts with side r mod 3
    assert blocks == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    with pytest.raises(ValueError):
        runtime_overhead.time_interleaved(sides, seconds=0)


def test_slow_sides_get_fewer_rounds_but_one_per_side_at_least() -> None:
    calls: list[str] = []
    sides = {name: (lambda n=name: calls.append(n)) for name in ("a", "b")}
    times = runtime_overhead.time_interleaved(sides, seconds=1e-9, rounds=12, settle_s=0)
    assert {k: len(v) for k, v in times.items()} == {"a": 2, "b": 2}
    assert calls[4:] == ["a", "b", "b", "a"]


def test_overhead_rows_are_ratios_of_medians() -> None:
    times = {
        1: {
            "ptx_runtime": [2.0, 2.2, 2.1],
            "bare_session": [2.0, 2.0, 2.1],
            "ort": [2.1, 2.1, 2.0],
            "torch": [4.0, 4.2, 4.4],
        },
        8: {"ptx_runtime": [11.0, 12.0], "bare_session": [10.0, 10.0]},
    }
    rows = runtime_overhead.overhead_rows(times)
    assert rows[0]["ptx_over_bare"] == pytest.approx(2.1 / 2.0)
    assert rows[0]["ort_over_torch"] == pytest.approx(2.1 / 4.2)
    assert rows[0]["meets_target"] is True  # 1.05 is the target, inclusive
    assert rows[1]["ptx_over_bare"] == pytest.approx(1.15) and rows[1]["meets_target"] is False
    assert "torch_ms" not in rows[1]
    md = runtime_overhead.markdown({"model": "m.onnx", "size": 16, "threads": 2, "rows": rows})
    assert "| 1 | 2.10 | 2.00 | 1.050 (ok) | 1.000 | 2.10 | 4.20 | 0.500 |" in md
    assert rows[1]["ptx_over_bare_min"] == pytest.approx(1.1)
    assert "1.150 (over)" in md


def test_overhead_measure_on_a_real_model(dynamic_onnx) -> None:
    result = runtime_overhead.measure(dynamic_onnx, None, batches=(1, 2), size=16, seconds=0.02)
    assert [r["batch"] for r in result["rows"]] == [1, 2]
    assert result["session_options"]["intra_op_num_threads"] >= 1
    for row in result["rows"]:
        assert row["calls"]["ptx_runtime"] >= 20 and row["ptx_over_bare"] > 0


def test_agreement_measures_three_ways_on_a_real_model(dynamic_onnx) -> None:
    result = agreement.measure(dynamic_onnx, size=16, batch=2, rounds=1, seconds=0.05)
    assert set(result["median_ms"]) == {"harness", "timeit", "polygraphy"}
    n = result["calls"]["harness"]
    assert n >= 5 and result["calls"] == {"harness": n, "timeit": n, "polygraphy": n}
    assert result["inputs"] == {"x": [2, 3, 16, 16]}
    text = agreement.text(result)
    assert "polygraphy run --onnxrt" in text and "harness / timeit" in text

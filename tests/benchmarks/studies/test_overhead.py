"""Runtime-overhead and agreement scripts: interleaving, ratio math, real tiny-model runs."""

from __future__ import annotations

import pytest

from ptx.benchmarks.harness import env
from ptx.benchmarks.studies import agreement, runtime_overhead


def test_rounds_interleave_and_rotate_every_side() -> None:
    """ptx.timing's timer: a warm call each, then one call per side per round, order rotating."""
    calls: list[str] = []
    sides = {name: (lambda n=name: calls.append(n)) for name in ("a", "b", "c")}
    times = runtime_overhead.per_call_ms(
        sides, seconds=60.0, max_rounds=4, quiet=lambda: None, min_rounds=0
    )
    assert set(times) == {"a", "b", "c"} and all(len(v) == 4 for v in times.values())
    assert calls[:3] == ["a", "b", "c"]  # the untimed warm calls
    # a Latin square: round r starts with side r mod 3
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    with pytest.raises(ValueError):
        runtime_overhead.per_call_ms(sides, seconds=0)


def test_times_are_milliseconds_and_a_spent_budget_still_gives_min_rounds() -> None:
    ticks = iter(range(10_000))
    sides = {name: (lambda: None) for name in ("a", "b")}
    times = runtime_overhead.per_call_ms(
        sides, seconds=1e-9, quiet=lambda: None, clock=lambda: next(ticks) * 0.001
    )
    n = runtime_overhead.MIN_ROUNDS
    assert {k: len(v) for k, v in times.items()} == {"a": n, "b": n}
    assert all(t == pytest.approx(1.0) for v in times.values() for t in v)  # 1 ms per tick


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


def test_results_go_to_the_working_directory_unless_told(dynamic_onnx, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PTX_RESULTS_DIR", raising=False)
    stem = f"runtime_overhead-{env.host_name()}"
    runtime_overhead.run(str(dynamic_onnx), None, "enhance", 16, (1,), 0.01, 1, None)
    assert (tmp_path / "bench-results" / f"{stem}.json").is_file()
    monkeypatch.setenv("PTX_RESULTS_DIR", str(tmp_path / "env"))
    runtime_overhead.run(str(dynamic_onnx), None, "enhance", 16, (1,), 0.01, 1, None)
    assert (tmp_path / "env" / f"{stem}.md").is_file()


def test_agreement_measures_three_ways_on_a_real_model(dynamic_onnx) -> None:
    result = agreement.measure(dynamic_onnx, size=16, batch=2, rounds=1, seconds=0.05)
    assert set(result["median_ms"]) == {"harness", "timeit", "polygraphy"}
    n = result["calls"]["harness"]
    assert n >= 5 and result["calls"] == {"harness": n, "timeit": n, "polygraphy": n}
    assert result["inputs"] == {"x": [2, 3, 16, 16]}
    text = agreement.text(result)
    assert "polygraphy run --onnxrt" in text and "harness / timeit" in text

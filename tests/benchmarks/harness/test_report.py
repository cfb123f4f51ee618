"""Report structure: the versioned JSON document, CSV, text summary, compare and its refusals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ptx.benchmarks.harness import report
from ptx.benchmarks.harness.compare import compare, compare_text
from ptx.benchmarks.harness.measure import BenchResult, Iteration
from ptx.benchmarks.serving import load
from ptx.benchmarks.studies import cpu_backends, runtime_overhead, suite
from ptx.errors import InputError


def synthetic(batch: int, latency_ms: float, label: str = "onnxruntime/fp32/cpu") -> BenchResult:
    """Back-to-back queries of a fixed latency: throughput = 1000 / latency_ms queries/s."""
    records = [Iteration(0, i * latency_ms, (i + 1) * latency_ms, 0.1) for i in range(20)]
    backend = label.split("/")[0]
    return BenchResult(
        label,
        backend,
        "cpu",
        "fp32",
        "m.onnx",
        batch,
        1,
        {"x": {"shape": [batch, 3, 8, 8], "dtype": "float32"}},
        {"cuda_graph": False, "no_transfers": False, "spin_wait": False},
        3,
        1.0,
        records,
    )


def write_doc(path, results, version=report.SCHEMA_VERSION):
    doc = report.document([report.run_dict(r) for r in results], {"hostname": "h"})
    doc["schema_version"] = version
    report.write_json(doc, path)
    return path


def test_run_dict_has_the_documented_fields() -> None:
    run = report.run_dict(synthetic(8, 2.0))
    for key in (
        "label",
        "backend",
        "precision",
        "device",
        "model",
        "batch",
        "streams",
        "inputs",
        "settings",
        "warmup",
        "queries",
        "wall_time_ms",
        "latency",
        "enqueue",
        "throughput",
        "cov",
        "warnings",
        "iterations",
    ):
        assert key in run, key
    assert set(run["latency"]) == {"min", "max", "mean", "median", "p90", "p95", "p99", "std"}
    assert run["latency"]["median"] == pytest.approx(2.0)
    assert run["wall_time_ms"] == pytest.approx(40.0)
    assert run["throughput"] == pytest.approx({"qps": 500.0, "images_per_s": 4000.0})
    assert run["inputs"]["x"]["shape"] == [8, 3, 8, 8]
    assert "h2d" not in run  # CPU backends have no device phases
    assert len(run["iterations"]) == 20 and run["iterations"][1]["start_ms"] == pytest.approx(2.0)
    assert "iterations" not in report.run_dict(synthetic(8, 2.0), per_iteration=False)


def test_json_round_trip_and_schema_refusals(tmp_path) -> None:
    path = write_doc(tmp_path / "a.json", [synthetic(1, 1.0)])
    doc = report.load_json(path)
    assert doc["schema"] == "ptx.bench" and doc["schema_version"] == 1
    assert doc["runs"][0]["latency"]["p99"] == pytest.approx(1.0)
    old = write_doc(tmp_path / "v2.json", [synthetic(1, 1.0)], version=2)
    with pytest.raises(InputError, match="schema version 2, this ptx reads version 1"):
        report.load_json(old)
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(InputError, match="not a ptx bench report"):
        report.load_json(tmp_path / "other.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not JSON"):
        report.load_json(tmp_path / "bad.json")


def test_csv_has_one_row_per_run(tmp_path) -> None:
    runs = [report.run_dict(synthetic(b, 1.0 + b)) for b in (1, 8)]
    report.write_csv(runs, tmp_path / "r.csv")
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [int(r["batch"]) for r in rows] == [1, 8]
    assert float(rows[1]["latency_median_ms"]) == pytest.approx(9.0)
    assert float(rows[1]["images_per_s"]) == pytest.approx(8 * 1000 / 9.0)


def test_summary_text_reads_like_trtexec() -> None:
    text = report.summary_text(report.run_dict(synthetic(4, 2.0)))
    assert "Throughput: 500 qps, 2000 images/s" in text
    assert "Latency: min = 2 ms" in text and "p99 = 2 ms" in text
    assert "Total Host Walltime: 0.04 s" in text


def test_compare_ratios_against_the_first_report(tmp_path) -> None:
    a = write_doc(tmp_path / "a.json", [synthetic(1, 4.0), synthetic(8, 20.0)])
    b = write_doc(
        tmp_path / "b.json",
        [synthetic(1, 2.0, "torch/fp32/cpu"), synthetic(32, 50.0, "torch/fp32/cpu")],
    )
    rows = compare([a, b])
    assert [r["speedup"] for r in rows[:2]] == [pytest.approx(1.0), pytest.approx(1.0)]
    faster = rows[2]
    assert faster["series"] == "b:torch/fp32/cpu" and faster["batch"] == 1
    assert faster["speedup"] == pytest.approx(2.0)
    assert faster["median_ratio"] == pytest.approx(0.5) and faster["p99_ratio"] == pytest.approx(
        0.5
    )
    assert rows[3]["speedup"] is None  # no batch-32 run in the first report
    text = compare_text(rows)
    assert "2.000x" in text and "0.500x" in text and "-" in text.splitlines()[-1]


def test_compare_matches_each_series_to_its_own_baseline(tmp_path) -> None:
    """Two series at one (batch, streams), e.g. batching on and off: each against itself."""
    a = write_doc(tmp_path / "a.json", [synthetic(1, 4.0, "on"), synthetic(1, 8.0, "off")])
    b = write_doc(tmp_path / "b.json", [synthetic(1, 2.0, "on"), synthetic(1, 2.0, "new")])
    rows = {r["series"]: r for r in compare([a, b])}
    assert rows["a:on"]["speedup"] == pytest.approx(1.0)
    assert rows["a:off"]["speedup"] == pytest.approx(1.0)
    assert rows["b:on"]["speedup"] == pytest.approx(2.0)  # against a:on, not a:off
    assert rows["b:new"]["speedup"] == pytest.approx(2.0)  # no such series: the first at batch 1


def test_compare_refuses_another_schema_version(tmp_path) -> None:
    a = write_doc(tmp_path / "a.json", [synthetic(1, 1.0)])
    b = write_doc(tmp_path / "b.json", [synthetic(1, 1.0)], version=99)
    with pytest.raises(InputError, match="schema version 99"):
        compare([a, b])


def test_results_dir_is_out_then_env_then_the_working_directory(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("PTX_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert report.results_dir() == Path("bench-results")
    assert report.results_dir().resolve() == tmp_path / "bench-results"
    monkeypatch.setenv("PTX_RESULTS_DIR", str(tmp_path / "env"))
    assert report.results_dir() == tmp_path / "env"
    assert report.results_dir(tmp_path / "given") == tmp_path / "given"


def test_no_writer_defaults_into_the_package() -> None:
    """Every study's --out defaults to results_dir(), never a folder beside the code."""
    for command in (load.main, runtime_overhead.main, suite.main, cpu_backends.main):
        assert command.make_context("study", []).params["out"] is None, command.callback

"""The suite's results page: ratio table against PyTorch, environment header, overhead section."""

from __future__ import annotations

from types import SimpleNamespace

from ptx.benchmarks.harness import env
from ptx.benchmarks.harness.measure import BenchResult, Iteration
from ptx.benchmarks.studies import suite


def fixed(label: str, batch: int, latency_ms: float) -> BenchResult:
    records = [Iteration(0, i * latency_ms, (i + 1) * latency_ms, 0.1) for i in range(10)]
    backend, precision, device = label.split("/")
    return BenchResult(label, backend, device, precision, "m", batch, 1, {}, {}, 1, 1.0, records)


def test_ratio_table_speedups_are_against_pytorch_at_the_same_batch() -> None:
    runs = [
        fixed("torch/fp32/cpu", 1, 10.0),
        fixed("onnxruntime/fp32/cpu", 1, 5.0),
        fixed("torch/fp32/cpu", 8, 80.0),
        fixed("onnxruntime/mixed/cpu", 8, 160.0),
    ]
    by_family = {"enhance": runs}
    table = suite.ratio_table(by_family)
    assert "| enhance | 1 | onnxruntime/fp32/cpu | 5.00 | 5.00 | 200.00 | 2.00x |" in table
    assert "| enhance | 8 | onnxruntime/mixed/cpu | 160.00 | 160.00 | 50.00 | 0.50x |" in table
    assert "| enhance | 8 | torch/fp32/cpu | 80.00 | 80.00 | 100.00 | 1.00x |" in table


def test_markdown_page_has_env_settings_notes_plot_and_overhead() -> None:
    env = {
        "hostname": "box",
        "cpu": "CPU X",
        "cpu_cores": 2,
        "gpus": [],
        "versions": {"ptx": "0.1.0", "onnxruntime": "1.2", "numpy": "2", "python": "3.11"},
    }
    settings = {
        "size": 256,
        "batches": (1, 8),
        "duration": 3.0,
        "threads": 2,
        "command": "python -m ptx.benchmarks.studies.suite",
        "png": "box.png",
    }
    sizes = [10, 5]
    module = SimpleNamespace(
        parameters=lambda: [SimpleNamespace(numel=lambda n=n: n) for n in sizes]
    )
    models = [SimpleNamespace(family="enhance", module=module, weights="random init (seed 0)")]
    overhead = {
        "model": "enhance.onnx",
        "size": 256,
        "threads": 2,
        "rows": [
            {
                "batch": 1,
                "ptx_runtime_ms": 10.0,
                "bare_session_ms": 10.0,
                "ptx_over_bare": 1.0,
                "meets_target": True,
                "ptx_over_bare_min": 1.0,
                "calls": {"ptx_runtime": 9, "bare_session": 9},
            }
        ],
    }
    page = suite.markdown(
        env,
        settings,
        {"enhance": [fixed("torch/fp32/cpu", 1, 10.0)]},
        ["`enhance`: TensorRT FP16: not run"],
        models,
        overhead,
    )
    assert page.startswith("# ptx benchmark suite on `box`")
    assert "CPU X (2 usable cores); GPU: none" in page
    assert "`enhance`: 15 parameters, weights: random init (seed 0)" in page
    assert "![latency and throughput vs batch](box.png)" in page
    assert "## Runtime overhead (issue 2)" in page and "1.000 (ok)" in page
    assert "- `enhance`: TensorRT FP16: not run" in page


def test_host_name_is_file_safe(monkeypatch) -> None:
    monkeypatch.setattr(env.socket, "gethostname", lambda: "my host/01")
    assert env.host_name() == "my_host_01"

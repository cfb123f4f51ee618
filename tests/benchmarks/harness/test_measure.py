"""The timing loop on real tiny models (structure only, never wall-clock values)."""

from __future__ import annotations

import numpy as np
import pytest

from ptx import runtime
from ptx.benchmarks.harness.backends import Backend
from ptx.benchmarks.harness.measure import BenchResult, Iteration, bench_engine, bench_sweep
from ptx.errors import InputError
from ptx.tensors import TensorInfo

QUICK = {"warmup_s": 0.01, "duration_s": 0.05, "iterations": 5}


def test_bench_engine_records_every_query(dynamic_onnx) -> None:
    result = bench_engine(runtime.load(dynamic_onnx), batch=3, **QUICK)
    assert result.batch == 3 and result.streams == 1
    assert result.inputs == {"x": {"shape": [3, 3, 16, 16], "dtype": "float32"}}
    assert len(result.records) >= 5
    assert result.records[0].start_ms == 0.0
    for r in result.records:
        assert r.end_ms >= r.start_ms and 0 <= r.enqueue_ms <= r.latency_ms + 1e-9
    assert result.settings["duration_s"] == 0.05 and result.label == "onnxruntime/fp32/cpu"
    s = result.summary()
    assert s["latency"]["min"] <= s["latency"]["median"] <= s["latency"]["p99"]
    assert s["throughput"]["images_per_s"] == pytest.approx(3 * s["throughput"]["qps"])


def test_streams_each_get_an_engine_and_throughput_aggregates(dynamic_onnx) -> None:
    opened = []

    def factory():
        opened.append(runtime.load(dynamic_onnx, threads=1))
        return opened[-1]

    result = bench_engine(factory, batch=1, streams=2, **QUICK)
    assert len(opened) == 2 and opened[0] is not opened[1]
    assert {r.stream for r in result.records} == {0, 1}
    assert sum(r.stream == 1 for r in result.records) >= 5
    with pytest.raises(InputError, match="one engine per stream"):
        bench_engine(opened[0], streams=2, **QUICK)


def test_sweep_and_gpu_flags_recorded_with_a_warning_on_cpu(dynamic_onnx) -> None:
    results = bench_sweep(
        lambda: runtime.load(dynamic_onnx), [1, 4], settings={"cuda_graph": True}, **QUICK
    )
    assert [r.batch for r in results] == [1, 4]
    assert results[0].settings["cuda_graph"] is True
    assert any("--cuda-graph has no effect" in w for w in results[0].warnings)


@pytest.mark.parametrize(
    "controls", [{"duration_s": 0}, {"warmup_s": -1}, {"iterations": 0}, {"streams": 0}]
)
def test_bad_controls_are_one_line_errors(dynamic_onnx, controls) -> None:
    args = {**QUICK, **controls}
    with pytest.raises(InputError):
        bench_engine(lambda: runtime.load(dynamic_onnx), **args)


def test_synthetic_records_give_trtexec_wall_time_and_throughput() -> None:
    # two streams, batch 8: queries [0,10] and [10,20] ms on stream 0, [2,12] on stream 1
    records = [
        Iteration(0, 0.0, 10.0, 1.0),
        Iteration(1, 2.0, 12.0, 1.0),
        Iteration(0, 10.0, 20.0, 1.0),
    ]
    result = BenchResult("x/fp32/cpu", "x", "cpu", "fp32", "m", 8, 2, {}, {}, 0, 0.0, records)
    assert result.wall_ms == 20.0
    s = result.summary()
    assert s["throughput"]["qps"] == pytest.approx(3 / 0.020)
    assert s["throughput"]["images_per_s"] == pytest.approx(8 * 3 / 0.020)
    assert s["latency"]["median"] == 10.0 and s["cov"] == 0.0 and s["cov_basis"] == "latency"


class PhasedBackend(Backend):
    """A GPU-style adapter: enqueue returns at once, per-phase times come from 'events'."""

    name, device, phases = "fake-gpu", "cuda", ("h2d", "compute", "d2h")

    def __init__(self) -> None:
        super().__init__("fake.plan", [TensorInfo("x", np.dtype(np.float32), ("b", 4))], None)
        self.n = 0

    def prepare(self, feeds) -> None:
        self.x = feeds["x"]

    def enqueue(self) -> None:
        self.n += 1

    def phase_times(self) -> dict[str, float]:
        return {"h2d": 0.1, "compute": 1.0 + (self.n % 2), "d2h": 0.2}


def test_phase_timings_flow_through_and_cov_uses_compute() -> None:
    result = bench_engine(PhasedBackend(), batch=2, **QUICK)
    s = result.summary()
    assert s["h2d"]["median"] == pytest.approx(0.1) and s["d2h"]["max"] == pytest.approx(0.2)
    assert s["compute"]["min"] == 1.0 and s["compute"]["max"] == 2.0
    assert s["cov_basis"] == "compute" and s["cov"] > 0.3
    assert any("GPU compute time is unstable" in w for w in result.warnings)

"""The GPU enhance pipeline on the doubles: same pixels as the CPU pipeline, batches overlapped."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import InputError, ModelError
from ptx.runtime import load
from ptx.runtime.pipelines.enhance import enhance_arrays, image_convention
from ptx.runtime.pipelines.gpu import GpuEnhancer, engine_model, enhance_arrays_gpu

RNG = np.random.default_rng(11)


def test_the_gpu_pipeline_equals_the_cpu_pipeline(plan, gpu_doubles):
    images = [RNG.integers(0, 256, (20, 28, 3), dtype=np.uint8) for _ in range(3)]
    images += [RNG.integers(0, 256, (9, 33, 3), dtype=np.uint8)]
    engine = load(plan)
    got = enhance_arrays_gpu(engine, images, image_convention(engine, None), batch=2)
    cpu = load(plan.with_suffix(".onnx"))
    want = enhance_arrays(cpu, images, batch=2)
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape and np.array_equal(a, b)


def test_copy_of_batch_i_plus_1_is_issued_before_compute_of_batch_i_completes(plan, gpu_doubles):
    engine = load(plan)
    images = [RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(4)]
    enhance_arrays_gpu(engine, images, image_convention(engine, None), batch=1)
    t = gpu_doubles.timeline
    computes = [e for e in t if e[3] == "tensorrt enqueueV3"]
    uploads = [e for e in t if e[3] == "memcpy H2D" and e[1] == "issue"]
    first_done = next(e for e in computes if e[1] == "done")
    second_upload = uploads[1]
    assert second_upload[2] != first_done[2]  # the other slot's stream
    assert second_upload[0] < first_done[0], "batch 1's copy waited for batch 0's compute"
    streams = {e[2] for e in uploads}
    assert len(streams) == 2  # double-buffered: two streams take turns


def test_the_pipeline_refuses_what_it_cannot_feed(plan, gpu_doubles):
    cpu = load(plan.with_suffix(".onnx"))
    with pytest.raises(ModelError, match="has no GPU path"):
        engine_model(cpu)
    run, *_ = engine_model(load(plan))
    with pytest.raises(ModelError, match="float16/float32"):
        GpuEnhancer(run, image_convention(cpu, None), np.uint8)
    gpu = GpuEnhancer(run, image_convention(cpu, None))
    with pytest.raises(InputError, match="no images"):
        gpu.submit([])
    with pytest.raises(InputError, match="batch must be"):
        enhance_arrays_gpu(run, [], image_convention(cpu, None), batch=0)


def test_a_folder_through_the_cli_on_cuda(plan, gpu_doubles, tmp_path):
    import json

    from click.testing import CliRunner
    from PIL import Image

    from ptx.cli import main

    src = tmp_path / "in"
    src.mkdir()
    for i, (h, w) in enumerate([(12, 20), (12, 20), (12, 20), (30, 9)]):
        Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(src / f"{i}.png")
    (src / "broken.png").write_bytes(b"\x89PNG not really")
    args = ["run", "enhance", "--model", str(plan), "--input", str(src), "--device", "cuda"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o"), "--batch", "2",
                                       "--json", "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 4 and summary["failed"] == 1
    assert summary["backend"] == "tensorrt+cuda (CPU double)"
    cpu = load(plan.with_suffix(".onnx"))
    for i in range(4):
        img = np.asarray(Image.open(src / f"{i}.png"))
        want = enhance_arrays(cpu, [img])[0]
        assert np.array_equal(np.asarray(Image.open(tmp_path / "o" / f"{i}.png")), want)


def test_bench_times_a_plan_with_no_gpu_phase_times_under_the_doubles(plan, gpu_doubles):
    from ptx.benchmarks.harness.backends import Target, TensorRTBackend, open_backend
    from ptx.benchmarks.harness.bench import Controls, run_bench

    backend = open_backend(Target(engine=str(plan)))
    assert isinstance(backend, TensorRTBackend) and backend.device == "cuda:0 (CPU double)"
    x = RNG.random((2, 3, 16, 16), dtype=np.float32)
    backend.prepare({"image": x})
    backend.enqueue()
    backend.sync()
    assert backend.phase_times() == {} and backend.phases == ()
    backend.prepare({"image": x[:1]})  # a new shape frees and remakes the buffers
    doc = run_bench(
        Target(engine=str(plan)), [2], [], Controls(warmup_s=0.0, duration_s=0.01, iterations=2),
        progress=False,
    )  # fmt: skip
    run = doc["runs"][0]
    assert run["device"] == "cuda:0 (CPU double)" and run["cov_basis"] == "latency"
    assert not any(k.endswith(("h2d_ms", "compute_ms", "d2h_ms")) for k in run)


def test_bench_engine_with_cuda_graph_and_no_transfers(plan, gpu_doubles):
    from ptx.benchmarks.harness.backends import Target, open_backend

    backend = open_backend(Target(engine=str(plan), cuda_graph=True, transfers=False))
    backend.prepare({"image": RNG.random((1, 3, 16, 16), dtype=np.float32)})
    start = len(gpu_doubles.timeline)
    for _ in range(3):
        backend.enqueue()
        backend.sync()
    ops = [t[3] for t in gpu_doubles.timeline[start:] if t[1] == "issue"]
    assert not [op for op in ops if op.startswith("memcpy")]  # --no-transfers: none timed
    replays = [t for t in gpu_doubles.timeline[start:] if isinstance(t[4], tuple)]
    assert replays  # --cuda-graph: the plan replays as a graph after its first enqueue

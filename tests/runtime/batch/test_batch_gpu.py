"""`ptx batch --gpus-per-worker`: each actor's engine on the GPU Ray assigned it.

Without a GPU: a local Ray declares two fake GPUs (``ray.init(num_gpus=2)`` on a CPU
machine) and a strict double of ``ptx.runtime.load`` travels to the actors; it checks
what each engine is asked for and hands back a real CPU engine, so the outputs are
still compared with `ptx run`'s. The `gpu`-marked test runs the real thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.errors import InputError, ModelError
from ptx.io import read_image, write_image
from ptx.runtime import load
from ptx.runtime.batch import MANIFEST_NAME, run_batch
from ptx.runtime.batch.devices import (
    actor_device,
    check_cluster_gpus,
    check_gpu_request,
    gpu_backend,
)
from ptx.runtime.batch.job import init_error, local_ray_options
from ptx.runtime.cli.run_enhance import enhance_cmd

ENGINE_USES = ("inputs", "outputs", "spec", "path", "run")  # what a batch Worker may touch


class StrictEngine:
    """A real CPU engine behind a gate: any attribute a Worker should not need fails."""

    def __init__(self, engine) -> None:
        self._engine = engine

    def __getattr__(self, name: str):
        if name not in ENGINE_USES:
            raise AssertionError(f"StrictEngine: unexpected use of engine.{name}")
        return getattr(self._engine, name)


class StrictLoader:
    """A strict double of ``ptx.runtime.load`` for the actors (it travels pickled by value).

    It takes only the call a GPU actor must make, records what Ray gave the actor
    (GPU ids, CUDA_VISIBLE_DEVICES) in ``record_dir``, waits until ``actors`` actors
    have loaded (so each held its GPU at the same time), then loads a real CPU engine.
    """

    def __init__(
        self, record_dir: Path, device: str, backend: str, options: dict, actors: int
    ) -> None:
        self.record_dir, self.device, self.backend = str(record_dir), device, backend
        self.options, self.actors = options, actors

    def __call__(self, path, *, device, threads, backend, **options):
        import ray

        if (device, backend, options) != (self.device, self.backend, self.options):
            raise AssertionError(
                f"StrictLoader: load(device={device!r}, backend={backend!r}, **{options}) "
                f"!= the expected ({self.device!r}, {self.backend!r}, **{self.options})"
            )
        if not (isinstance(threads, int) and threads >= 1):
            raise AssertionError(f"StrictLoader: threads={threads!r}")
        record = {
            "pid": os.getpid(),
            "gpu_ids": [str(i) for i in ray.get_gpu_ids()],
            "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "device": device,
        }
        folder = Path(self.record_dir)
        (folder / f"{os.getpid()}.json").write_text(json.dumps(record))
        deadline = time.monotonic() + 120
        while len(list(folder.glob("*.json"))) < self.actors:
            if time.monotonic() > deadline:
                raise AssertionError(f"StrictLoader: fewer than {self.actors} actors started")
            time.sleep(0.05)
        return StrictEngine(load(path, device="cpu", threads=threads, backend=backend, **options))


@pytest.fixture(scope="module")
def ray_gpus():
    """A local Ray that declares two GPUs this machine need not have."""
    ray = pytest.importorskip("ray")
    # Ray pickles the double's class by reference unless told: the actors cannot import
    # a test module.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(**local_ray_options(2), num_gpus=2)
    yield ray
    ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith(".")
    }


def _images(root: Path, helpers, n: int) -> Path:
    for i in range(n):
        write_image(root / f"img{i}.png", helpers.random_image(12, 16, i))
    return root


def test_two_actors_get_distinct_gpus_and_each_engine_is_asked_for_it(
    ray_gpus, models, helpers, tmp_path
):
    src, out, ref, records = (tmp_path / d for d in ("in", "out", "ref", "records"))
    records.mkdir()
    _images(src, helpers, 6)
    # auto on a GPU is ONNX Runtime (its CUDA provider) for an .onnx, whatever PTX_BACKEND says
    double = StrictLoader(records, "cuda", "onnxruntime", {"spin": False}, actors=2)
    summary = run_batch("enhance", models["affine"], src, out, workers=2, gpus_per_worker=1,
                        progress=False, loader=double)  # fmt: skip
    assert (summary.images, summary.failed, summary.devices) == (6, 0, ["cuda"])
    assert "ray x2 on cuda" in summary.line()
    seen = [json.loads(p.read_text()) for p in records.iterdir()]
    assert len({r["pid"] for r in seen}) == 2
    ids = sorted(tuple(r["gpu_ids"]) for r in seen)
    assert ids == [("0",), ("1",)]  # one whole fake GPU each, not the same one
    for r in seen:  # Ray narrowed each actor's CUDA view to its GPU: device 0 inside it
        assert r["visible"] == r["gpu_ids"][0] and r["device"] == "cuda"
    run = CliRunner().invoke(
        enhance_cmd, ["--model", str(models["affine"]), "--input", str(src), "--out", str(ref)]
    )
    assert run.exit_code == 0, run.output
    assert _files(out) == _files(ref)


def test_an_engine_that_cannot_use_the_gpu_is_one_line(ray_gpus, models, helpers, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider: the fake GPUs would be used")
    src = _images(tmp_path / "in", helpers, 2)
    with pytest.raises(ModelError) as err:
        run_batch("enhance", models["affine"], src, tmp_path / "out", workers=1,
                  gpus_per_worker=1, progress=False)  # fmt: skip
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("a ptx batch worker could not start: ")
    assert "onnxruntime-gpu" in text


def test_more_gpus_than_the_cluster_has_is_refused_before_ray_waits(ray_gpus, models, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "a.png", np.zeros((8, 8, 3), np.uint8))
    res = CliRunner().invoke(main, ["batch", "enhance", "--model", str(models["affine"]),
                                    "--input", str(src), "--out", str(out), "--workers", "3",
                                    "--gpus-per-worker", "1"])  # fmt: skip
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: --gpus-per-worker 1 x --workers 3 needs 3 GPUs; the Ray cluster has 2: "
        "use fewer workers or a smaller share"
    ]
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--gpus-per-worker", "-1"], "error: --gpus-per-worker must be >= 0, got -1"),
        (["--gpus-per-worker", "nan"], "error: --gpus-per-worker must be >= 0, got nan"),
        (
            ["--gpus-per-worker", "1", "--backend", "openvino"],
            "error: --backend openvino runs on the CPU; with --gpus-per-worker use auto, "
            "onnxruntime or tensorrt",
        ),
    ],
)
def test_bad_gpu_requests_are_one_line_before_ray_starts(models, tmp_path, args, line):
    out = tmp_path / "out"
    model, src = str(models["affine"]), str(tmp_path)
    res = CliRunner().invoke(
        main, ["batch", "enhance", "--model", model, "--input", src, "--out", str(out), *args]
    )
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [line]
    assert not out.exists()


def test_a_plan_needs_a_gpu_per_worker(tmp_path):
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"plan")
    with pytest.raises(InputError, match=r"m\.plan: a TensorRT plan runs on a GPU; give "):
        check_gpu_request(0, "auto", plan)
    check_gpu_request(0.5, "auto", plan)
    assert gpu_backend(plan, "auto") == "tensorrt"
    assert gpu_backend(tmp_path / "m.onnx", "auto") == "onnxruntime"
    assert gpu_backend(tmp_path / "m.onnx", "tensorrt") == "tensorrt"


def test_the_device_is_the_assigned_gpus_place_in_cuda_visible_devices():
    # Ray set CUDA_VISIBLE_DEVICES to the actor's GPU (the default): device 0
    assert actor_device([3], {"CUDA_VISIBLE_DEVICES": "3"}) == "cuda"
    # several visible (Ray told not to narrow it, or a shared view): the id's position
    assert actor_device([2], {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}) == "cuda:2"
    assert actor_device(["5"], {"CUDA_VISIBLE_DEVICES": "4,5"}) == "cuda:1"
    # RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES and nothing set: the id itself
    assert actor_device([1], {}) == "cuda:1"
    with pytest.raises(ModelError, match="assigned this worker no GPU"):
        actor_device([], {"CUDA_VISIBLE_DEVICES": "0"})
    with pytest.raises(ModelError, match="assigned GPU 2 but CUDA_VISIBLE_DEVICES is 0,1"):
        actor_device([2], {"CUDA_VISIBLE_DEVICES": "0,1"})


def test_cluster_gpu_check_counts_every_workers_share():
    check_cluster_gpus({"CPU": 2.0}, 0.0, 4)  # no GPUs asked for: nothing to check
    check_cluster_gpus({"GPU": 1.0}, 0.5, 2)  # two actors share one GPU
    with pytest.raises(InputError, match="the Ray cluster has no GPUs"):
        check_cluster_gpus({"CPU": 2.0}, 0.5, 1)
    with pytest.raises(InputError, match="needs 1.5 GPUs; the Ray cluster has 1"):
        check_cluster_gpus({"GPU": 1.0}, 0.5, 3)


def test_init_error_takes_the_ptx_line_from_rays_report():
    report = (
        "The actor died because of an error raised in its creation task, ray::MapWorker\n"
        '  File "job.py", line 120, in __init__\n'
        "ptx.errors.ModelError: device 'cuda' needs onnxruntime-gpu (pip install onnxruntime-gpu)\n"
    )
    assert init_error(report) == "device 'cuda' needs onnxruntime-gpu (pip install onnxruntime-gpu)"
    assert init_error("boom\nValueError: x") == "ValueError: x"


@pytest.mark.gpu
def test_ptx_batch_runs_each_engine_on_a_real_gpu(models, helpers, tmp_path):
    """`ptx batch --gpus-per-worker 1` where CUDA exists: outputs as `ptx run` on the CPU."""
    pytest.importorskip("ray")
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)")
    src, out, ref = _images(tmp_path / "in", helpers, 4), tmp_path / "out", tmp_path / "ref"
    # A process of its own: a fresh local Ray that detects the real GPUs.
    done = subprocess.run(
        [sys.executable, "-m", "ptx", "batch", "enhance", "--model", str(models["affine"]),
         "--input", str(src), "--out", str(out), "--workers", "1", "--gpus-per-worker", "1",
         "--no-progress", "--json"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    assert (summary["images"], summary["failed"], summary["devices"]) == (4, 0, ["cuda"])
    run = CliRunner().invoke(
        enhance_cmd, ["--model", str(models["affine"]), "--input", str(src), "--out", str(ref)]
    )
    assert run.exit_code == 0, run.output
    for name in sorted(_files(ref)):
        a = read_image(out / name).astype(np.int16)
        b = read_image(ref / name).astype(np.int16)
        assert np.abs(a - b).max() <= 1, name  # CUDA's float maths may round one level apart

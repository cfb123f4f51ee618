"""GPU + TensorRT: a real plan runs, chunks, runs concurrently, replays graphs, fills
caller buffers. Skips where TensorRT cannot build for this GPU."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ptx.runtime import load

pytestmark = [pytest.mark.gpu, pytest.mark.tensorrt]
RNG = np.random.default_rng(int(np.random.SeedSequence().entropy % 2**32))
SHAPES = "image:1x3x8x8,2x3x16x16,4x3x32x32"


@pytest.fixture(scope="module")
def plan(tmp_path_factory, helpers):
    from ptx.export.trt import build_engine, detect
    from ptx.runtime.backends.tensorrt.compat import targets_allow
    from ptx.runtime.cuda import use_device

    if not any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx")):
        pytest.skip("no TensorRT on this machine")
    cc = use_device(0).capability
    flavour = detect("auto")
    targets = None
    if flavour.name == "rtx":
        targets = [f"{cc[0]}.{cc[1]}"]
        if targets_allow(["7.5", "8.0", "8.6", "8.9", "12.0+"], cc) is False:
            pytest.skip(f"TensorRT-RTX does not target compute capability {targets[0]}")
    folder = tmp_path_factory.mktemp("trt")
    onnx = helpers.affine_model(folder / "affine.onnx")
    build_engine(onnx, folder / "affine.plan", shapes=SHAPES, compute_capabilities=targets)
    return folder / "affine.plan"


def test_numpy_run_matches_the_formula(plan):
    engine = load(plan)
    x = RNG.random((3, 3, 16, 24), dtype=np.float32)
    np.testing.assert_allclose(engine.run({"image": x})["out"], x * 0.5 + 0.25, rtol=1e-6)


def test_a_batch_beyond_the_profile_is_chunked_or_refused(plan):
    from ptx.errors import InputError

    x = RNG.random((11, 3, 16, 16), dtype=np.float32)
    assert [(c.start, c.stop) for c in load(plan).plan({"image": x.shape})] == [
        (0, 4), (4, 8), (8, 11),
    ]  # fmt: skip
    np.testing.assert_allclose(load(plan).run({"image": x})["out"], x * 0.5 + 0.25, rtol=1e-6)
    with pytest.raises(InputError, match="profile 0: image"):
        load(plan, allow_chunking=False).run({"image": x})


def test_contexts_serve_concurrent_requests(plan):
    engine = load(plan, contexts=3)
    inputs = [RNG.random((2, 3, 8 * (1 + i % 3), 16), dtype=np.float32) for i in range(12)]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda x: engine.run({"image": x})["out"], inputs))
    for x, y in zip(inputs, outs, strict=True):
        np.testing.assert_allclose(y, x * 0.5 + 0.25, rtol=1e-6)


def test_graph_replay_and_caller_buffers(plan):
    cp = pytest.importorskip("cupy")
    engine = load(plan, cuda_graph=True)
    stream = cp.cuda.Stream(non_blocking=True)
    out = cp.empty((2, 3, 16, 16), dtype=cp.float32)
    for _ in range(3):  # enqueue + capture, then graph replays on the same buffers
        x = cp.asarray(RNG.random((2, 3, 16, 16), dtype=np.float32))
        out.fill(cp.nan)
        result = engine.run_device({"image": x}, {"out": out}, stream=stream)
        stream.synchronize()
        assert result["out"] is not None
        np.testing.assert_allclose(cp.asnumpy(out), cp.asnumpy(x) * 0.5 + 0.25, rtol=1e-6)


def test_host_array_to_run_device_is_one_line(plan):
    from ptx.errors import InputError

    with pytest.raises(InputError, match="host \\(NumPy\\) array where a GPU array"):
        load(plan).run_device({"image": np.zeros((1, 3, 8, 8), np.float32)})

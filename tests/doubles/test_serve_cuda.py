"""`ptx serve --device cuda` on the doubles: a plan's image routes run the GPU pipeline.

The answers must be the pixels `ptx run enhance` gives for the same ONNX on ONNX Runtime
(exactly: the fused kernels' NumPy references round as the CPU pipeline does), and the
preprocess/postprocess kernels must have been launched on the simulated GPU.
"""

from __future__ import annotations

import io
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ptx.cli import main
from ptx.runtime import load
from ptx.runtime.server.app import create_app
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.models import RGB, GpuImages
from ptx.runtime.server.run import BackgroundServer

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
RNG = np.random.default_rng(23)
SIZES = [(20, 28), (20, 28), (20, 28), (9, 33), (40, 16)]
KERNELS = ("kernel ptx_preprocess", "kernel ptx_postprocess")


def _post(url: str, path, accept: str = "image/png") -> np.ndarray:
    req = urllib.request.Request(url, path.read_bytes(), {"Accept": accept})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return np.asarray(Image.open(io.BytesIO(resp.read())).convert("RGB"))


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, (h, w) in enumerate(SIZES):
        Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(src / f"{i}.png")
    return src


def _run_enhance_on_onnx(onnx, src, out) -> dict[str, np.ndarray]:
    """`ptx run enhance` on the ONNX with ONNX Runtime (the CPU pipeline): name -> pixels."""
    args = ["run", "enhance", "--model", str(onnx), "--input", str(src), "--out", str(out),
            "--backend", "onnxruntime", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return {p.name: np.asarray(Image.open(p)) for p in sorted(out.iterdir())}


def test_serve_cuda_enhance_equals_run_enhance_on_the_onnx(plan, gpu_doubles, photos, tmp_path):
    want = _run_enhance_on_onnx(plan.with_suffix(".onnx"), photos, tmp_path / "cpu")
    config = ServerConfig(models={"m": plan}, port=0, device="cuda", max_batch=4, instances=2)
    start = len(gpu_doubles.timeline)
    with BackgroundServer(create_app(config)) as srv:
        url = f"{srv.url}/v1/models/m/enhance"
        with ThreadPoolExecutor(4) as pool:  # same-size requests may merge into one batch
            got = dict(zip(want, pool.map(lambda n: _post(url, photos / n), want), strict=True))
        cfg = _get(f"{srv.url}/v2/models/m/config")
        meta = _get(f"{srv.url}/v2/models/m")
    assert len(got) == len(SIZES)
    for name, pixels in want.items():
        assert got[name].shape == pixels.shape and np.array_equal(got[name], pixels), name
    issued = [e[3] for e in gpu_doubles.timeline[start:] if e[1] == "issue"]
    for kernel in KERNELS:
        assert issued.count(kernel) >= 1, f"{kernel} was never launched"
    assert "tensorrt enqueueV3" in issued and "memcpy H2D" in issued
    assert cfg["instance_group"] == [{"count": 2, "kind": "KIND_GPU"}]
    assert meta["parameters"]["device"] == "cuda:0"


def test_the_v2_tensor_route_still_feeds_host_arrays(plan, gpu_doubles):
    config = ServerConfig(models={"m": plan}, port=0, device="cuda")
    x = RNG.random((1, 3, 16, 16), dtype=np.float32)
    body = {"inputs": [{"name": "image", "shape": list(x.shape), "datatype": "FP32",
                        "data": x.ravel().tolist()}]}  # fmt: skip
    start = len(gpu_doubles.timeline)
    with BackgroundServer(create_app(config)) as srv:
        req = urllib.request.Request(
            f"{srv.url}/v2/models/m/infer", json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            out = json.loads(resp.read())["outputs"][0]
    got = np.asarray(out["data"], np.float32).reshape(out["shape"])
    want = load(plan.with_suffix(".onnx"), backend="onnxruntime").run({"image": x})["out"]
    assert np.linalg.norm(got - want) <= 1e-5 * np.linalg.norm(want)
    issued = [e[3] for e in gpu_doubles.timeline[start:] if e[1] == "issue"]
    assert not any(k in issued for k in KERNELS)


def test_a_merged_same_size_batch_through_gpu_images(plan, gpu_doubles):
    from ptx.runtime.pipelines.enhance import enhance_arrays

    engine = load(plan, device="cuda")
    images = RNG.integers(0, 256, (3, 12, 20, 3), dtype=np.uint8)
    runner = GpuImages()
    start = len(gpu_doubles.timeline)
    try:
        out = runner.run(engine, {RGB: images})[RGB]
        again = runner.run(engine, {RGB: images[:1]})[RGB]  # a new batch size reuses the enhancer
    finally:
        runner.close(engine)
        engine.close()
    want = enhance_arrays(load(plan.with_suffix(".onnx"), backend="onnxruntime"), list(images), 3)
    assert out.shape == (3, 12, 20, 3) and np.array_equal(out, np.stack(want))
    assert np.array_equal(again[0], want[0])
    launches = [e for e in gpu_doubles.timeline[start:] if e[1] == "issue" and e[3] in KERNELS]
    assert len(launches) == 4  # one preprocess + one postprocess per batch, not per image

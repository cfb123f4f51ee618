"""End to end under the launcher: `ptx build` (real TensorRT-RTX) -> bench and run on the doubles.

The GPU pipeline's outputs must equal the CPU pipeline's on the same ONNX (rel L2 <= 1e-5).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from models import enhancer_onnx, has_builder
from PIL import Image

LAUNCHER = Path(__file__).resolve().parent / "with_gpu_doubles.py"
pytestmark = pytest.mark.skipif(not has_builder(), reason="no TensorRT builder to make a plan")


def ptx(*args: str, doubles: bool = False) -> subprocess.CompletedProcess:
    head = [sys.executable, str(LAUNCHER), "ptx"] if doubles else [sys.executable, "-m", "ptx"]
    env = {**os.environ, "PTX_BACKEND": "onnxruntime"}
    return subprocess.run([*head, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    onnx = enhancer_onnx(folder / "m.onnx", seed=3)
    done = ptx(
        "build", "--onnx", str(onnx), "--out", str(folder / "m.plan"),
        "--shapes", "image:1x3x8x8,2x3x32x32,4x3x64x64", "--opt-level", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    imgs = folder / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(5)
    for i, (h, w) in enumerate([(24, 40), (24, 40), (24, 40), (33, 17)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(imgs / f"{i}.png")
    return folder


def test_bench_engine_runs_and_says_it_is_a_double(built):
    out = built / "bench.json"
    done = ptx(
        "bench", "--engine", str(built / "m.plan"), "--shapes", "image:2x3x32x32",
        "--duration", "0.05", "--warmup", "0.01", "--iterations", "3", "--json", str(out),
        doubles=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("ptx: running under the CPU doubles")
    run = json.loads(out.read_text())["runs"][0]
    text = json.dumps(run)
    assert "CPU double" in text and "h2d_ms" not in text and "compute_ms" not in text


def test_run_enhance_on_cuda_equals_the_onnx_on_onnx_runtime(built):
    args = ["run", "enhance", "--input", str(built / "imgs"), "--batch", "2", "--no-progress"]
    gpu = ptx(*args, "--model", str(built / "m.plan"), "--device", "cuda", "--out",
              str(built / "gpu"), doubles=True)  # fmt: skip
    assert gpu.returncode == 0, gpu.stderr
    assert "tensorrt+cuda (CPU double)" in gpu.stdout
    cpu = ptx(*args, "--model", str(built / "m.onnx"), "--out", str(built / "cpu"))
    assert cpu.returncode == 0, cpu.stderr
    names = sorted(p.name for p in (built / "cpu").iterdir())
    assert names == sorted(p.name for p in (built / "gpu").iterdir()) and len(names) == 4
    for name in names:
        a = np.asarray(Image.open(built / "gpu" / name), np.float64)
        b = np.asarray(Image.open(built / "cpu" / name), np.float64)
        assert np.linalg.norm(a - b) <= 1e-5 * np.linalg.norm(b), name


def test_a_plan_on_a_machine_without_a_gpu_is_one_line(built):
    done = ptx("run", "enhance", "--model", str(built / "m.plan"), "--device", "cuda",
               "--input", str(built / "imgs"), "--out", str(built / "none"))  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ")


def test_serve_a_plan_under_the_launcher_equals_the_onnx(built):
    import importlib.util
    import socket
    import time
    import urllib.request

    if not all(importlib.util.find_spec(m) for m in ("starlette", "uvicorn")):
        pytest.skip("ptx serve needs the serve extra (starlette, uvicorn)")
    import onnxruntime as ort

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, str(LAUNCHER), "ptx", "serve", "--model", f"m={built / 'm.plan'}",
           "--port", str(port), "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/v2"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/models/m/ready", timeout=1)
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                time.sleep(0.1)
        x = np.random.default_rng(2).random((2, 3, 16, 16), dtype=np.float32)
        body = {"inputs": [{"name": "image", "shape": list(x.shape), "datatype": "FP32",
                            "data": x.ravel().tolist()}]}  # fmt: skip
        req = urllib.request.Request(f"{base}/models/m/infer", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})  # fmt: skip
        out = json.loads(urllib.request.urlopen(req, timeout=60).read())["outputs"][0]
        got = np.asarray(out["data"], np.float32).reshape(out["shape"])
        want = ort.InferenceSession(str(built / "m.onnx")).run(None, {"image": x})[0]
        assert np.linalg.norm(got - want) <= 1e-5 * np.linalg.norm(want)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert err.startswith("ptx: running under the CPU doubles")

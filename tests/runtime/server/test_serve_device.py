"""`ptx serve --device`: checked at start, passed to every load, reported as the instance kind."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import onnxruntime as ort
import pytest

from ptx.errors import InputError
from ptx.runtime.server.app import create_app
from ptx.runtime.server.config import ServerConfig
from ptx.runtime.server.run import BackgroundServer

NO_ORT_GPU = "CUDAExecutionProvider" not in ort.get_available_providers()


@pytest.mark.parametrize("device", ["tpu", "cuda:", "cuda:x", "gpu0", ""])
def test_a_bad_device_is_refused_by_the_config(device):
    with pytest.raises(InputError, match="--device must be cpu, cuda or cuda:N"):
        ServerConfig(device=device)


@pytest.mark.parametrize("device", [None, "cpu", "cuda", "cuda:1"])
def test_good_devices_pass(device):
    assert ServerConfig(device=device).device == device


@pytest.mark.skipif(not NO_ORT_GPU, reason="onnxruntime-gpu is installed here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_an_onnx_on_cuda_without_onnxruntime_gpu_is_one_line_at_start(model_files, device):
    cmd = [sys.executable, "-m", "ptx", "serve", "--model", f"a={model_files['affine']}",
           "--device", device, "--port", "0"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert "onnxruntime-gpu" in done.stderr and "model 'a'" in done.stderr


def test_an_onnx_on_cpu_reports_cpu_instances(model_files):
    config = ServerConfig(models={"a": model_files["affine"]}, port=0, device="cpu", instances=2)
    app = create_app(config)
    assert not app.state.ptx.models["a"].gpu_images
    with BackgroundServer(app) as server:
        with urllib.request.urlopen(f"{server.url}/v2/models/a/config", timeout=30) as resp:
            cfg = json.loads(resp.read())
        with urllib.request.urlopen(f"{server.url}/v2/models/a", timeout=30) as resp:
            meta = json.loads(resp.read())
    assert cfg["instance_group"] == [{"count": 2, "kind": "KIND_CPU"}]
    assert meta["parameters"]["device"] == "cpu"

"""ONNX Runtime's CUDA execution provider with IOBinding (where onnxruntime-gpu is installed)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from ptx.errors import ModelError
from ptx.runtime.backends.onnxruntime.cuda import OnnxRuntimeCudaEngine

HAS_CUDA_EP = "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.mark.skipif(HAS_CUDA_EP, reason="onnxruntime-gpu is installed here")
def test_without_onnxruntime_gpu_it_is_one_line(models):
    with pytest.raises(ModelError) as err:
        OnnxRuntimeCudaEngine(models["affine"])
    assert "\n" not in str(err.value) and "onnxruntime-gpu" in str(err.value)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA_EP, reason="needs onnxruntime-gpu (CUDA execution provider)")
def test_iobinding_reads_and_writes_device_arrays(models):
    cp = pytest.importorskip("cupy")
    engine = OnnxRuntimeCudaEngine(models["affine"])
    x = np.random.default_rng().random((2, 3, 16, 24), dtype=np.float32)
    out = cp.full(x.shape, np.nan, dtype=cp.float32)
    result = engine.run_device({"image": cp.asarray(x)}, {"out": out})
    assert result["out"] is out
    np.testing.assert_allclose(cp.asnumpy(out), x * 0.5 + 0.25, rtol=1e-6)
    fresh = engine.run_device({"image": cp.asarray(x)})["out"]
    np.testing.assert_allclose(cp.asnumpy(cp.asarray(fresh)), x * 0.5 + 0.25, rtol=1e-6)


class _Captured(Exception):
    """Raised by the session double once it has seen the providers."""


@pytest.mark.parametrize(("device", "gpu"), [("cuda", 0), ("cuda:1", 1), ("cuda:3", 3)])
def test_cuda_n_reaches_the_provider_as_its_device_id(models, monkeypatch, device, gpu):
    from ptx.runtime.backends.onnxruntime.engine import OnnxRuntimeEngine

    seen = {}

    def session(path, opts, providers):  # a strict double: one call, then stop the load
        assert not seen, "one session per engine"
        seen["providers"] = providers
        raise _Captured

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", session)
    with pytest.raises(ModelError):  # the loader wraps whatever the session raised
        OnnxRuntimeEngine(models["affine"], device=device)
    assert seen["providers"] == [
        ("CUDAExecutionProvider", {"device_id": gpu}),
        "CPUExecutionProvider",
    ]


@pytest.mark.parametrize("device", ["cuda:x", "tpu", "cuda:-1"])
def test_a_bad_device_is_one_line(models, device):
    from ptx.errors import PtxError
    from ptx.runtime.backends.onnxruntime.engine import OnnxRuntimeEngine

    with pytest.raises(PtxError) as err:
        OnnxRuntimeEngine(models["affine"], device=device)
    assert "\n" not in str(err.value) and device in str(err.value)

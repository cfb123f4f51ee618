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

"""GPU: the double-buffered enhance pipeline gives the CPU pipeline's images."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.runtime import load
from ptx.runtime.pipelines.enhance import enhance_arrays
from ptx.runtime.pipelines.gpu import engine_model, enhance_arrays_gpu
from ptx.spec import ImageConvention

RNG = np.random.default_rng(int(np.random.SeedSequence().entropy % 2**32))


def torch_affine(scale: float, bias: float):
    """A DeviceModel doing out = x * scale + bias with torch, on the pipeline's stream."""
    torch = pytest.importorskip("torch")

    def run(x, out, stream: int) -> None:
        with torch.cuda.stream(torch.cuda.ExternalStream(stream)):
            xs, ys = torch.as_tensor(x, device="cuda"), torch.as_tensor(out, device="cuda")
            torch.add(xs * scale, bias, out=ys)

    return run


@pytest.mark.gpu
def test_gpu_pipeline_matches_the_cpu_pipeline(models):
    conv = ImageConvention(multiple_of=8)
    sizes = [(30, 44), (30, 44), (30, 44), (17, 9), (30, 44), (64, 40)]
    images = [RNG.integers(0, 256, (*s, 3), dtype=np.uint8) for s in sizes]
    cpu = enhance_arrays(load(models["affine"]), images, batch=2, conv=conv)
    gpu = enhance_arrays_gpu(torch_affine(0.5, 0.25), images, conv, batch=2)
    assert len(gpu) == len(cpu)
    for a, b in zip(gpu, cpu, strict=True):
        assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_an_engine_without_a_gpu_path_is_refused(models):
    from ptx.errors import ModelError

    with pytest.raises(ModelError, match="has no GPU path"):
        engine_model(load(models["affine"]))

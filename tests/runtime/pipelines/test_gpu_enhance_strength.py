"""--strength on the GPU enhance pipeline, checked on the CPU doubles (tests/doubles)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "doubles"))

import gpu_doubles  # noqa: E402
from models import enhancer_onnx, profile, sidecar_plan  # noqa: E402

from ptx.cli import main  # noqa: E402
from ptx.errors import InputError  # noqa: E402
from ptx.image import blend  # noqa: E402
from ptx.io import read_image, write_image  # noqa: E402
from ptx.runtime.backends.tensorrt import TensorRTEngine  # noqa: E402
from ptx.runtime.pipelines.enhance import image_convention  # noqa: E402
from ptx.runtime.pipelines.gpu import enhance_arrays_gpu, enhance_path_gpu  # noqa: E402

RNG = np.random.default_rng(14)


@pytest.fixture
def gpu():
    with gpu_doubles.installed() as sim:
        yield sim


@pytest.fixture
def plan(tmp_path, gpu):  # after the doubles: the sidecar names the TensorRT double's version
    onnx = enhancer_onnx(tmp_path / "e.onnx")
    return sidecar_plan(tmp_path, onnx, [profile((1, 3, 8, 8), (1, 3, 16, 16), (2, 3, 32, 32))])


def test_strength_blends_on_the_gpu_path(plan, tmp_path):
    # A fresh engine per run: the TensorRT double refuses a context whose last request
    # was on a stream since destroyed (real CUDA allows it), and each run owns its streams.
    conv = image_convention(TensorRTEngine(plan))
    images = [RNG.integers(0, 256, (12, 20, 3), dtype=np.uint8) for _ in range(3)]
    full = enhance_arrays_gpu(TensorRTEngine(plan), images, conv, batch=2)
    assert any(not np.array_equal(f, i) for f, i in zip(full, images, strict=True))
    half = enhance_arrays_gpu(TensorRTEngine(plan), images, conv, batch=2, strength=0.5)
    for src, f, h in zip(images, full, half, strict=True):
        np.testing.assert_array_equal(h, blend(src, f, 0.5))
    none = enhance_arrays_gpu(TensorRTEngine(plan), images, conv, strength=0.0)
    assert all(np.array_equal(a, b) for a, b in zip(none, images, strict=True))
    with pytest.raises(InputError, match="strength must be in 0..1"):
        enhance_arrays_gpu(TensorRTEngine(plan), images, conv, strength=1.5)
    engine = TensorRTEngine(plan)

    for i, img in enumerate(images):
        write_image(tmp_path / "in" / f"p{i}.png", img)
    summary = enhance_path_gpu(
        engine, tmp_path / "in", tmp_path / "out", batch=2, progress=False, strength=0.25
    )
    assert summary.images == 3 and summary.failed == 0
    for i, (src, f) in enumerate(zip(images, full, strict=True)):
        np.testing.assert_array_equal(
            read_image(tmp_path / "out" / f"p{i}.png"), blend(src, f, 0.25)
        )


def test_cli_takes_strength_with_device_cuda(plan, tmp_path):
    img = RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    write_image(tmp_path / "in" / "a.png", img)
    args = ["run", "enhance", "--model", str(plan), "--device", "cuda", "--no-progress"]
    res = CliRunner().invoke(
        main, [*args, "--input", str(tmp_path / "in"), "--out", str(tmp_path / "o"),
               "--strength", "0"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(read_image(tmp_path / "o" / "a.png"), img)
    bad = CliRunner().invoke(
        main, [*args, "--input", str(tmp_path / "in"), "--out", str(tmp_path / "b"),
               "--max-pixels", "100000"],
    )  # fmt: skip
    assert bad.exit_code != 0 and "--max-pixels" in bad.output
    assert not (tmp_path / "b").exists()


def test_the_gpu_path_gives_a_cut_out_its_alpha_back(plan, tmp_path):
    alpha = np.zeros((16, 16), np.uint8)
    alpha[4:12, 4:12], alpha[3, 4:12] = 255, 128
    from PIL import Image

    (tmp_path / "in").mkdir()
    rgba = np.dstack([np.full((16, 16, 3), 90, np.uint8), alpha])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in" / "cut.png")
    summary = enhance_path_gpu(TensorRTEngine(plan), tmp_path / "in", tmp_path / "out",
                               progress=False, strength=0.0)  # fmt: skip
    assert summary.images == 1 and summary.failed == 0
    with Image.open(tmp_path / "out" / "cut.png") as img:
        out = np.asarray(img)
    np.testing.assert_array_equal(out[..., 3], alpha)
    assert np.abs(out[3, 4:12, :3].astype(int) - 90).max() <= 2  # off the white again

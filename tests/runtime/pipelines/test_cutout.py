"""The cut-out pipeline and `ptx run cutout` on a tiny real ONNX cutout model (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from ptx.cli import main
from ptx.errors import InputError, ModelError
from ptx.io import write_image
from ptx.runtime import load
from ptx.runtime.pipelines.cutout import cutout_alpha, cutout_path, cutout_rgba, work_size
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx

GAIN = 8.0


def _save_cutout(path: Path, nodes: list, inits: list, config: dict, max_batch: int = 1) -> Path:
    """A cutout ONNX of ``nodes`` (image NCHW -> alpha N1HW) with its ModelSpec, saved."""
    graph = helper.make_graph(
        nodes,
        "cutout",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("alpha", TensorProto.FLOAT, ["n", 1, "h", "w"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    spec = ModelSpec(
        task="cutout",
        family="cutout",
        inputs=[TensorSpec("image", "float32", ["batch", 3, "height", "width"])],
        outputs=[TensorSpec("alpha", "float32", ["batch", 1, "height", "width"])],
        image=ImageConvention(),
        profile=ShapeProfile(
            min={"image": [1, 3, 32, 32]},
            opt={"image": [1, 3, 64, 64]},
            max={"image": [max_batch, 3, 256, 256]},
        ),
        config=config,
    )
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def cutout_model(path: Path, work_side: int = 64, refine: bool = False) -> Path:
    """alpha = sigmoid(GAIN * (mean over RGB - 0.5)): bright pixels are the 'product'."""
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes"], ["m"], keepdims=1),
        helper.make_node("Sub", ["m", "half"], ["c"]),
        helper.make_node("Mul", ["c", "gain"], ["g"]),
        helper.make_node("Sigmoid", ["g"], ["alpha"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "axes"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(GAIN, np.float32), "gain"),
    ]
    config = {"work_side": work_side, **({"refine": "grabcut"} if refine else {})}
    return _save_cutout(path, nodes, inits, config)


def expected(rgb: np.ndarray) -> np.ndarray:
    m = rgb.astype(np.float32).mean(axis=2) / 255.0
    return 1.0 / (1.0 + np.exp(-GAIN * (m - 0.5)))


@pytest.fixture
def model(tmp_path) -> Path:
    return cutout_model(tmp_path / "cutout.onnx")


def _halves(h: int, w: int) -> np.ndarray:
    img = np.full((h, w, 3), 20, np.uint8)
    img[:, w // 2 :] = 235
    return img


def test_alpha_at_the_work_size_is_the_model_output(model) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(40, 64, 3), dtype=np.uint8)  # long side = work side
    (alpha,) = cutout_alpha(model, [img])
    assert alpha.dtype == np.float32 and alpha.shape == (40, 64)
    np.testing.assert_allclose(alpha, expected(img), atol=1e-5)


def test_large_and_small_images_come_back_at_their_own_size(model) -> None:
    engine = load(model, backend="onnxruntime")
    big, small = _halves(200, 120), _halves(10, 14)
    alphas = cutout_alpha(engine, [big, small])
    assert [a.shape for a in alphas] == [(200, 120), (10, 14)]
    for a, img in zip(alphas, (big, small), strict=True):
        # Away from the one edge, resizing cannot change a flat region's alpha.
        w = img.shape[1]
        np.testing.assert_allclose(a[:, : w // 4], expected(img)[:, : w // 4], atol=1e-4)
        np.testing.assert_allclose(a[:, -(w // 4) :], expected(img)[:, -(w // 4) :], atol=1e-4)
        assert a.min() >= 0.0 and a.max() <= 1.0


def test_work_side_overrides_the_specs(model) -> None:
    """work_side: the net runs at that long side instead of the spec's (64 here)."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(200, 120, 3), dtype=np.uint8)
    (full,) = cutout_alpha(model, [img], work_side=200)  # no resize: the model's own output
    np.testing.assert_allclose(full, expected(img), atol=1e-5)
    (spec_side,) = cutout_alpha(model, [img])  # at 64: noise averaged away, then upsampled
    assert np.abs(spec_side - expected(img)).mean() > 0.05
    with pytest.raises(InputError, match="work side"):
        cutout_alpha(model, [img], work_side=0)


def test_work_size_puts_the_long_side_at_the_work_side_and_lifts_the_short_one() -> None:
    assert work_size(1000, 500, 256, 32) == (256, 128)
    assert work_size(100, 80, 256, 32) == (256, 205)  # a small photo is scaled up too
    assert work_size(10, 20, 256, 32) == (128, 256)
    assert work_size(10, 200, 256, 32) == (32, 640)  # the short side wins
    assert work_size(2000, 40, 256, 32, 1024) == (1024, 32)  # thin: the short side wins


def test_rgba_keeps_the_rgb(model) -> None:
    img = _halves(36, 64)  # long side = the work side: the alpha is the model's own
    (rgba,) = cutout_rgba(model, [img])
    assert rgba.shape == (36, 64, 4) and rgba.dtype == np.uint8
    assert np.array_equal(rgba[..., :3], img)
    want = np.clip(expected(img) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(rgba[..., 3].astype(int) - want).max() <= 1


def test_refuses_another_model_and_bad_images(model, tmp_path, helpers) -> None:
    other = helpers.affine_model(tmp_path / "enhance.onnx")
    with pytest.raises(ModelError, match="not a cut-out model"):
        cutout_alpha(other, [_halves(40, 40)])
    with pytest.raises(InputError, match="uint8 HxWx3"):
        cutout_alpha(model, [np.zeros((40, 40, 3), np.float32)])
    with pytest.raises(InputError, match="uint8 HxWx3"):
        cutout_alpha(model, [np.zeros((40, 40), np.uint8)])


def test_folder_run_writes_rgba_pngs_with_the_same_stems(model, photo_folder, tmp_path) -> None:
    out = tmp_path / "out"
    summary = cutout_path(model, photo_folder, out, progress=False)
    assert summary.images == 5 and summary.failed == 2
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["a.png", "b.png", "c.png", "sub/d.png", "sub/deeper/e.png"]
    src = np.asarray(Image.open(photo_folder / "sub" / "deeper" / "e.bmp").convert("RGB"))
    got = Image.open(out / "sub" / "deeper" / "e.png")
    assert got.mode == "RGBA" and got.size == (src.shape[1], src.shape[0])
    rgba = np.asarray(got)
    assert np.array_equal(rgba[..., :3], src)


def test_cli_run_cutout(model, tmp_path) -> None:
    src = tmp_path / "in"
    write_image(src / "shoe.jpg", _halves(48, 64))
    out = tmp_path / "out"
    args = ["run", "cutout", "--model", str(model), "--input", str(src), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1 images, 0 failed" in result.output
    assert Image.open(out / "shoe.png").mode == "RGBA"


def test_cli_run_cutout_refuses_another_model(tmp_path, helpers) -> None:
    other = helpers.affine_model(tmp_path / "enhance.onnx")
    src = tmp_path / "in"
    write_image(src / "a.png", _halves(40, 40))
    args = ["run", "cutout", "--model", str(other), "--input", str(src), "--out", str(tmp_path)]
    result = CliRunner().invoke(main, [*args, "--no-progress"])
    assert result.exit_code != 0
    assert "not a cut-out model" in result.output
    assert not list((tmp_path).glob("*.png"))


def skew_model(path: Path, flip: bool, max_batch: int = 2) -> Path:
    """alpha = sigmoid(GAIN * (mean of the pixel to the right - 0.5)): not mirror-symmetric."""
    weight = np.zeros((1, 3, 1, 3), np.float32)
    weight[..., 2] = GAIN / 3.0
    nodes = [
        helper.make_node("Conv", ["image", "w", "b"], ["c"], pads=[0, 1, 0, 1]),
        helper.make_node("Sigmoid", ["c"], ["alpha"]),
    ]
    inits = [
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(np.array([-0.5 * GAIN], np.float32), "b"),
    ]
    config = {"work_side": 64, "flip_average": flip}
    return _save_cutout(path, nodes, inits, config, max_batch=max_batch)


def test_flip_average_is_the_mean_of_the_image_and_its_mirror(tmp_path) -> None:
    """A spec with flip_average: the alpha is the mean of both passes (the mirror's unflipped)."""
    flips = load(skew_model(tmp_path / "flip.onnx", True), backend="onnxruntime")
    plain = load(skew_model(tmp_path / "plain.onnx", False), backend="onnxruntime")
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, size=(48, 60, 3), dtype=np.uint8)
    (one,) = cutout_alpha(plain, [img])
    (mirror,) = cutout_alpha(plain, [np.ascontiguousarray(img[:, ::-1])])
    assert np.abs(one - mirror[:, ::-1]).mean() > 0.05  # the net is not mirror-symmetric
    (avg,) = cutout_alpha(flips, [img])
    np.testing.assert_allclose(avg, 0.5 * (one + mirror[:, ::-1]), atol=1e-5)
    # the caller overrides the spec either way; at a work size as well (then upsampled)
    np.testing.assert_allclose(cutout_alpha(flips, [img], flip=False)[0], one, atol=1e-6)
    np.testing.assert_allclose(cutout_alpha(plain, [img], flip=True)[0], avg, atol=1e-6)
    big = rng.integers(0, 256, size=(130, 100, 3), dtype=np.uint8)
    (small_avg,) = cutout_alpha(flips, [big])
    (a,) = cutout_alpha(plain, [big])
    (b,) = cutout_alpha(plain, [np.ascontiguousarray(big[:, ::-1])])
    assert small_avg.shape == (130, 100)
    np.testing.assert_allclose(small_avg, 0.5 * (a + b[:, ::-1]), atol=1e-4)


def test_flip_average_needs_a_batch_of_two(tmp_path) -> None:
    """A profile of batch 1 runs one pass, whatever the spec says; forcing a flip is refused."""
    one = load(skew_model(tmp_path / "one.onnx", True, max_batch=1), backend="onnxruntime")
    plain = load(skew_model(tmp_path / "plain.onnx", False), backend="onnxruntime")
    img = np.random.default_rng(3).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    np.testing.assert_allclose(cutout_alpha(one, [img])[0], cutout_alpha(plain, [img])[0])
    with pytest.raises(InputError, match="batch 1 only"):
        cutout_alpha(one, [img], flip=True)

"""Large photos in tiles: the grid, the fitted tone curves, and tiled == untiled, no seams."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ptx.errors import InputError
from ptx.image import blend
from ptx.io import read_image, write_image
from ptx.runtime import load
from ptx.runtime.pipelines.enhance import (
    SHIPPED_MODEL,
    enhance_arrays,
    enhance_path,
    tile_budget,
    tile_sides,
)
from ptx.runtime.pipelines.enhance_tiles import ALIGN, fits, tile_grid, tone_curves

NCHW = ["batch", 3, "height", "width"]


def grey_world_model(path) -> str:
    """A global + local enhancer: 3x3 box blur, then each channel scaled so its mean is 0.5.

    The gain comes from the statistics of the whole input, like an enhancer's global
    branch: a tile run on its own gets a different gain than the full photo.
    """
    box = np.full((3, 1, 3, 3), 1 / 9, dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "box"], ["blur"], group=3, pads=[1, 1, 1, 1]),
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=1),
        helper.make_node("Div", ["half", "mean"], ["gain"]),
        helper.make_node("Mul", ["blur", "gain"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "grey_world",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, NCHW)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, NCHW)],
        [
            numpy_helper.from_array(box, "box"),
            numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients, a bright and a dark region, and noise: tiles differ in statistics."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([60 + 120 * x, 50 + 90 * y, 140 - 80 * x * y], axis=-1)
    base[: h // 3, : w // 3] += 70  # a bright corner: its tile's mean is far from the rest
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "h, w, budget, overlap",
    [(3000, 4000, 2_000_000, 64), (1001, 999, 300_000, 64), (600, 5000, 1_000_000, 32)],
)
def test_grid_covers_the_photo_within_the_budget(h, w, budget, overlap):
    rows, cols = tile_grid(h, w, budget, overlap)
    for spans, n in ((rows, h), (cols, w)):
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert all(a % ALIGN == 0 for a, _ in spans)
        assert all(
            b0 < a1 and a1 - b0 >= overlap
            for (_, a1), (b0, _) in zip(spans, spans[1:], strict=False)
        )
    assert max((y1 - y0) * (x1 - x0) for y0, y1 in rows for x0, x1 in cols) <= budget
    assert len(rows) * len(cols) > 1


def test_grid_refuses_a_budget_smaller_than_its_overlap():
    with pytest.raises(InputError, match="too small"):
        tile_grid(2000, 2000, 10_000, 64)


def test_tone_curves_recover_a_per_channel_curve():
    src = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    want = 255.0 * (np.arange(256) / 255.0) ** np.array([[0.8], [1.0], [1.25]])
    out = np.stack([want[c][src[..., c]] for c in range(3)], axis=-1)
    err = np.abs(tone_curves(src, out) - want)
    assert err.mean() < 0.5 and err.max() < 3.0  # piecewise linear: the steep toe costs most


def test_tiled_equals_untiled_and_a_lone_tile_would_not(tmp_path):
    engine = load(grey_world_model(tmp_path / "gw.onnx"), backend="onnxruntime")
    img = photo(600, 800)
    whole = enhance_arrays(engine, [img], max_pixels=0)[0].astype(int)
    tiled = enhance_arrays(engine, [img], max_pixels=120_000)[0].astype(int)
    corner = enhance_arrays(engine, [img[:256, :256]], max_pixels=0)[0].astype(int)
    # The control: alone, the bright corner gets its own gain, far from the whole photo's.
    assert np.abs(corner[8:-8, 8:-8] - whole[8:248, 8:248]).mean() > 10
    diff = np.abs(tiled - whole)
    assert diff.mean() < 2.0 and np.percentile(diff, 99) < 10, (diff.mean(), diff.max())


def test_folder_run_tiles_photos_over_the_budget(tmp_path, models):
    engine = load(grey_world_model(tmp_path / "gw.onnx"), backend="onnxruntime")
    img = photo(300, 400, seed=2)
    write_image(tmp_path / "in" / "big.png", img)
    write_image(tmp_path / "in" / "small.png", img[:100, :100])
    s = enhance_path(engine, tmp_path / "in", tmp_path / "out", progress=False, max_pixels=40_000)
    assert s.images == 2 and s.failed == 0
    tiled = enhance_arrays(engine, [img], max_pixels=40_000)[0]
    assert np.array_equal(read_image(tmp_path / "out" / "big.png"), tiled)
    small = enhance_arrays(engine, [img[:100, :100]], max_pixels=0)[0]
    assert np.array_equal(read_image(tmp_path / "out" / "small.png"), small)
    half = enhance_path(
        engine, tmp_path / "in", tmp_path / "half", progress=False, max_pixels=40_000, strength=0.5
    )
    assert half.images == 2
    np.testing.assert_array_equal(read_image(tmp_path / "half" / "big.png"), blend(img, tiled, 0.5))


def test_tile_budget_defaults_by_task(models):
    shipped = load(SHIPPED_MODEL, backend="onnxruntime")  # its spec's profile: up to 1024x1024
    assert tile_budget(shipped, None) == 1024 * 1024
    affine = load(models["affine"], backend="onnxruntime")  # task enhance: tiled by default
    assert tile_budget(affine, None) is not None
    assert tile_budget(affine, 0) is None and tile_budget(affine, 5000) == 5000
    with pytest.raises(InputError, match="max-pixels"):
        tile_budget(affine, -1)


@pytest.mark.parametrize(
    "h, w, budget, sides",
    [
        (1200, 1600, 1024 * 1024, (1024, 1024)),  # under the pixel budget per tile, not per side
        (1600, 1200, 1024 * 1024, (1024, 1024)),
        (3000, 4000, 1024 * 1024, (1024, 1024)),
        (800, 1200, 1024 * 1024, (1024, 1024)),  # 0.96 MP: whole by pixels, too wide by side
        (700, 5000, 2_000_000, (512, 2048)),
    ],
)
def test_no_tile_is_larger_than_the_profile_on_either_side(h, w, budget, sides):
    assert not fits(h, w, budget, sides)
    rows, cols = tile_grid(h, w, budget, 64, sides)
    assert max(b - a for a, b in rows) <= sides[0] and max(b - a for a, b in cols) <= sides[1]
    assert rows[-1][1] == h and cols[-1][1] == w
    assert max((y1 - y0) * (x1 - x0) for y0, y1 in rows for x0, x1 in cols) <= budget
    assert tile_grid(h, w, budget, 64) == tile_grid(h, w, budget, 64, None)  # unchanged without


def test_a_photo_within_the_pixels_but_past_a_side_is_tiled_within_the_profile(tmp_path):
    """Every call the shipped enhancer gets stays inside its 1024x1024 profile."""
    engine = load(SHIPPED_MODEL, backend="onnxruntime")
    assert tile_sides(engine) == (1024, 1024)
    calls = []
    run = engine.run

    def spy(feeds, *args, **kwargs):
        calls.append(next(iter(feeds.values())).shape)
        return run(feeds, *args, **kwargs)

    engine.run = spy
    img = photo(600, 1200, seed=3)  # 0.72 MP: whole by pixels, 1200 wide
    out = enhance_arrays(engine, [img])[0]
    assert out.shape == img.shape and len(calls) > 1
    assert all(s[2] <= 1024 and s[3] <= 1024 for s in calls), calls

"""Matte renders (exact alpha, staged products) and the cutout family's seeded batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ptx.errors import InputError
from ptx.training.cutout.data import _crop_pair, held_out, make_batch, write_matte_set
from ptx.training.data import catalogue, matte
from ptx.training.data.degrade import DegradeConfig
from ptx.training.data.matte import BG_KINDS, matte_background, render_matte, render_set
from ptx.training.enhance.data import package_textures


def test_render_is_a_function_of_seed_and_index() -> None:
    a_rgb, a_alpha = render_matte(3, 7, 64)
    b_rgb, b_alpha = render_matte(3, 7, 64)
    c_rgb, _ = render_matte(3, 8, 64)
    assert np.array_equal(a_rgb, b_rgb) and np.array_equal(a_alpha, b_alpha)
    assert not np.array_equal(a_rgb, c_rgb)
    assert a_rgb.shape == (64, 64, 3) and a_rgb.dtype == np.uint8
    assert a_alpha.shape == (64, 64) and a_alpha.dtype == np.float32


def test_alpha_is_soft_at_the_edge_and_covers_a_product() -> None:
    for i in range(6):
        _, alpha = render_matte(0, i, 96)
        assert alpha.min() >= 0.0 and alpha.max() <= 1.0
        assert 0.02 < (alpha > 0.5).mean() < 0.98, i
        # Anti-aliased (and sometimes defocused) edges: fractional coverage exists.
        assert ((alpha > 0.05) & (alpha < 0.95)).sum() > 10, i


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_alpha_is_exact_and_shadows_are_backdrop(index: int, monkeypatch) -> None:
    """The same render over black and over white: the alpha explains every difference."""

    def flat(value: float):
        return lambda kind, size, rng, tex, **_: np.full((size, size, 3), value, np.float32)

    monkeypatch.setattr(matte, "matte_background", flat(0.0))
    black, alpha = render_matte(1, index, 96)
    monkeypatch.setattr(matte, "matte_background", flat(255.0))
    white, alpha2 = render_matte(1, index, 96)
    assert np.array_equal(alpha, alpha2)
    full, none = alpha >= 1.0, alpha <= 0.0
    assert full.sum() > 100 and none.sum() > 100
    assert np.array_equal(black[full], white[full])  # covered: no backdrop shows through
    assert black[none].max() == 0  # uncovered over black: nothing, shadows included
    # Over white the backdrop shows in proportion to 1 - alpha (a shadow only darkens it).
    part = ~full & ~none
    gap = white[part].astype(np.float32) - black[part].astype(np.float32)
    assert (gap <= 255.0 * (1.0 - alpha[part])[:, None] + 1.0).all()


def test_every_backdrop_kind_is_drawn(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tex = [np.tile(np.arange(64, dtype=np.uint8)[None] * 4, (64, 1))]
    for kind in BG_KINDS:
        bg = matte_background(kind, 48, rng, tex)
        assert bg.shape == (48, 48, 3) and bg.dtype == np.float32
        assert bg.min() >= 0.0 and bg.max() <= 255.0


def test_the_catalogue_is_unchanged_by_the_matte_renders() -> None:
    """matte reuses the renderer: a catalogue image is the same before and after a matte render."""
    before, _ = catalogue.render_product(0, 5, 64)
    render_matte(0, 5, 64)
    after, _ = catalogue.render_product(0, 5, 64)
    assert np.array_equal(before, after)


def test_renders_larger_than_the_textures() -> None:
    """scikit-image's textures are 512 px; a 700 px render still gets textured backdrops."""
    tex = [np.tile((np.arange(64, dtype=np.uint8) * 4)[None], (64, 1))]
    for i in range(4):
        rgb, alpha = render_matte(0, i, 160, tex)
        assert rgb.shape == (160, 160, 3) and alpha.shape == (160, 160)


def test_bad_size_and_seed_are_input_errors() -> None:
    with pytest.raises(InputError):
        render_matte(0, 0, 8)
    with pytest.raises(InputError):
        render_matte(-1, 0, 64)


def test_crop_keeps_image_and_alpha_aligned() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(80, 80), dtype=np.uint8)
    rgb = np.dstack([a, a, a])
    for k in range(8):
        c, ca = _crop_pair(rgb, a, 48, np.random.default_rng(k))
        assert c.shape == (48, 48, 3) and ca.shape == (48, 48)
        assert np.array_equal(c[..., 0], ca)


def test_batches_are_pure_functions_of_seed_and_step() -> None:
    rgbs, alphas = render_set(0, 0, 4, 64, textures=[])
    assert rgbs.shape == (4, 64, 64, 3) and alphas.shape == (4, 64, 64)
    cfg = DegradeConfig()
    x1, y1 = make_batch(rgbs, alphas, 3, 48, 0, 5, cfg)
    x2, y2 = make_batch(rgbs, alphas, 3, 48, 0, 5, cfg)
    x3, _ = make_batch(rgbs, alphas, 3, 48, 0, 6, cfg)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and not np.array_equal(x1, x3)
    assert x1.shape == (3, 3, 48, 48) and y1.shape == (3, 1, 48, 48)
    assert x1.dtype == y1.dtype == np.float32
    assert y1.min() >= 0.0 and y1.max() <= 1.0 and x1.min() >= 0.0 and x1.max() <= 1.0


def test_held_out_comes_from_another_seed_and_is_half_degraded() -> None:
    pairs = held_out(0, 2, 64)
    _, alpha0 = render_matte(0 + 1_000_003, 0, 64, package_textures())
    assert np.array_equal(pairs[0][1], alpha0)
    train0, _ = render_matte(0, 0, 64)
    assert not np.array_equal(pairs[0][0], train0)
    clean1, _ = render_matte(1_000_003, 1, 64, package_textures())
    assert pairs[1][0].shape == clean1.shape and not np.array_equal(pairs[1][0], clean1)


def test_write_matte_set(tmp_path: Path) -> None:
    assert write_matte_set(tmp_path / "m", 2, 48) == 2
    rgba = Image.open(tmp_path / "m" / "00001_cutout.png")
    assert rgba.mode == "RGBA" and rgba.size == (48, 48)
    assert Image.open(tmp_path / "m" / "00001.png").mode == "RGB"
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError):
        write_matte_set(tmp_path / "f", 1, 48)


def test_render_matte_kind_names_the_backdrop_of_the_same_render() -> None:
    """The per-kind scores of cutout_eval rest on this: same image, and every kind occurs."""
    kinds = set()
    for i in range(40):
        rgb, alpha, kind = matte.render_matte_kind(2, i, 48)
        if i < 3:
            rgb2, alpha2 = render_matte(2, i, 48)
            assert np.array_equal(rgb, rgb2) and np.array_equal(alpha, alpha2)
        kinds.add(kind)
    assert kinds <= set(BG_KINDS) and {"scene", "studio", "plain"} <= kinds, kinds

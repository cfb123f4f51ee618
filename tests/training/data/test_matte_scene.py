"""The matte renders' pieces: free silhouettes (thin parts, holes), fills, busy scene backdrops."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ptx.training.data import matte
from ptx.training.data.matte_scene import (
    OBJECT_FADE,
    SMALL,
    backdrop_object,
    extent,
    fill,
    paste,
    scene,
    silhouette,
    silhouette_product,
)

TEX = [np.tile((np.arange(64, dtype=np.uint8) * 4)[None], (64, 1))]


def test_silhouettes_are_anti_aliased_and_seeded() -> None:
    a = silhouette(96, np.random.default_rng(3))
    b = silhouette(96, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.dtype == np.float32 and a.shape == (96, 96)
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert ((a > 0.05) & (a < 0.95)).sum() > 10  # 2x supersampled: fractional edge pixels
    assert 0.02 < (a > 0.5).mean() < 0.9


def test_silhouettes_have_thin_parts_and_holes() -> None:
    """What catalogue shapes lack: limbs a few px wide (an opening removes them) and holes."""
    thin = holes = 0
    for k in range(24):
        m = silhouette(128, np.random.default_rng(k)) > 0.5
        opened = ndimage.binary_opening(m, structure=np.ones((9, 9), bool))
        thin += (m & ~opened).sum() > 60
        background, n = ndimage.label(~m)
        border = set(np.unique(np.concatenate([background[0], background[-1],
                                               background[:, 0], background[:, -1]])))  # fmt: skip
        holes += any(i not in border for i in range(1, n + 1))
    assert thin >= 8, thin
    assert holes >= 2, holes


def test_silhouette_product_is_premultiplied() -> None:
    col, alpha = silhouette_product(64, np.random.default_rng(1), TEX)
    assert col.shape == (64, 64, 3) and alpha.shape == (64, 64)
    assert (col <= 255.0 * alpha[..., None] + 1e-3).all() and col.min() >= 0.0
    assert col[alpha == 0].max() == 0.0


def test_fills_cover_the_range_and_use_textures() -> None:
    fills = [fill(48, np.random.default_rng(k), TEX) for k in range(12)]
    for f in fills:
        assert f.shape == (48, 48, 3) and f.min() >= 0.0 and f.max() <= 255.0
    # Textured, blobby and shaded fills all vary inside the product.
    assert sum(float(f.std()) > 5.0 for f in fills) >= 6


def test_paste_clips_at_the_frame() -> None:
    col = np.full((10, 10, 3), 7.0, np.float32)
    alpha = np.ones((10, 10), np.float32)
    c, a = paste(col, alpha, 16, -4, 12)
    assert a.sum() == 6 * 4 and c[..., 0].sum() == 7.0 * 24
    c, a = paste(col, alpha, 16, 40, 40)
    assert a.sum() == 0.0


def test_scenes_hold_objects_over_their_base() -> None:
    """A flat grey base gains objects, structures and edges; values stay in 0..255."""
    grey = lambda: np.full((96, 96, 3), 128.0, np.float32)  # noqa: E731
    busy = 0
    for k in range(8):
        s = scene(96, np.random.default_rng(k), TEX, grey)
        assert s.shape == (96, 96, 3) and s.dtype == np.float32
        assert s.min() >= 0.0 and s.max() <= 255.0
        busy += float(np.abs(s - 128.0).mean()) > 5.0
    assert busy >= 6, busy


def test_plain_backdrops_are_light_and_nearly_flat() -> None:
    for k in range(6):
        bg = matte.matte_background("plain", 64, np.random.default_rng(k), TEX)
        assert bg.mean() >= 170.0 and bg.std() < 12.0, (k, bg.mean(), bg.std())


def test_scene_backdrops_are_drawn_in_renders() -> None:
    """A share of the renders stage the product in front of a scene (the weights add up)."""
    assert abs(sum(matte.BG_WEIGHTS) - 1.0) < 1e-9 and len(matte.BG_WEIGHTS) == len(matte.BG_KINDS)
    assert abs(sum(matte.SCENE_BASE_WEIGHTS) - 1.0) < 1e-9
    assert "scene" in matte.BG_KINDS and "plain" in matte.BG_KINDS


def test_backdrop_objects_are_defocused_faded_or_smaller_than_the_product() -> None:
    """No object behind the product is as sharp, as contrasted and as large as the product."""
    mean = np.array([120.0, 130.0, 140.0], np.float32)
    product, seen = 70, set()
    for k in range(60):
        col, alpha, look = backdrop_object(160, np.random.default_rng(k), TEX, product, mean)
        assert alpha.min() >= 0.0 and alpha.max() <= 1.0
        assert (col >= -1e-3).all() and (col[alpha <= 0.0] == 0.0).all()  # premultiplied
        if alpha.max() < 0.5:
            continue  # drawn wholly off frame
        seen.add(look["kind"])
        step = max(np.abs(np.diff(alpha, axis=0)).max(), np.abs(np.diff(alpha, axis=1)).max())
        soft = step <= 0.4  # a sharp (2x supersampled) edge steps by up to 1 between pixels
        small = extent(alpha) <= SMALL[1] * product + 1
        faded = look["contrast"] <= OBJECT_FADE[1]
        if faded:  # every fully covered colour within the kept contrast of the mean
            inside = alpha >= 0.999
            assert (np.abs(col[inside] - mean) <= OBJECT_FADE[1] * 255.0 + 0.5).all()
        assert soft or small or faded, (k, look, step, extent(alpha))
        assert soft == (look["sigma"] > 0.0) or small or faded, (k, look, step)
    assert seen == {"defocus", "fade", "both", "small"}, seen


def test_extent_is_the_covered_box_side() -> None:
    a = np.zeros((20, 20), np.float32)
    assert extent(a) == 0
    a[3:8, 5:15] = 1.0
    a[2, 5] = 0.4  # under half covered: outside
    assert extent(a) == 10


def test_renders_tell_the_backdrop_the_product_extent(monkeypatch) -> None:
    """A scene gets the product's extent, so it can keep its sharp objects smaller."""
    got = []

    def flat(kind, size, rng, tex, product=None):
        got.append(product)
        return np.full((size, size, 3), 128.0, np.float32)

    monkeypatch.setattr(matte, "matte_background", flat)
    for i in range(4):
        rgb, alpha = matte.render_matte(2, i, 96)
        assert got[-1] == extent(alpha) and got[-1] > 0

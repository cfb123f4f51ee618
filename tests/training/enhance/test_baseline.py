"""The classical baseline: runs, keeps the shape, and pulls a colour cast toward grey."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import ImageError
from ptx.training.enhance.baseline import classical_enhance, grey_world


def _cast_scene() -> np.ndarray:
    rng = np.random.default_rng(0)
    grey = rng.integers(40, 200, (36, 44, 1)).repeat(3, axis=2).astype(np.float32)
    return np.clip(grey * np.array([1.25, 1.0, 0.7]), 0, 255).astype(np.uint8)


def test_classical_enhance_pulls_a_cast_toward_grey_world() -> None:
    cast = _cast_scene()
    out = classical_enhance(cast)
    assert out.shape == cast.shape and out.dtype == np.uint8
    spread_before = np.ptp(cast.reshape(-1, 3).mean(0))
    spread_after = np.ptp(out.reshape(-1, 3).mean(0))
    assert spread_before > 30
    assert spread_after < spread_before / 4


def test_classical_enhance_stretches_a_flat_image_and_removes_salt() -> None:
    rng = np.random.default_rng(1)
    flat = rng.integers(100, 140, (32, 32, 1)).repeat(3, axis=2).astype(np.uint8)
    flat[::7, ::5] = 255  # isolated hot pixels: the 3x3 median removes them
    out = classical_enhance(flat)
    assert np.ptp(out[..., 0]) > np.ptp(flat[..., 0][flat[..., 0] < 255])
    assert (out == 255).sum() < (flat == 255).sum()


def test_grey_world_equalises_channel_means() -> None:
    means = grey_world(_cast_scene()).reshape(-1, 3).mean(0)
    assert np.ptp(means) < 2.0


def test_non_rgb_is_refused() -> None:
    with pytest.raises(ImageError, match="uint8 HxWx3"):
        classical_enhance(np.zeros((8, 8), np.uint8))

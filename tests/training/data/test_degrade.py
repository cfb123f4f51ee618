"""The seeded degradation model: deterministic per seed, and it really degrades."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import ImageError, InputError
from ptx.training.common.metrics import psnr
from ptx.training.data.degrade import DegradeConfig, degrade, degrade_seeded


def _scene(h: int = 48, w: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), 180.0)], axis=2)
    img[10:30, 8:24] = (200, 40, 60)
    return img.astype(np.uint8)


def test_same_seed_same_bytes_other_seed_differs() -> None:
    clean = _scene()
    a, b = degrade_seeded(clean, 7), degrade_seeded(clean, 7)
    assert a.dtype == np.uint8 and a.shape == clean.shape
    assert np.array_equal(a, b)
    assert not np.array_equal(a, degrade_seeded(clean, 8))


def test_degrades_within_a_sane_range() -> None:
    clean = _scene()
    scores = [psnr(degrade_seeded(clean, s), clean) for s in range(12)]
    assert all(8.0 < s < 40.0 for s in scores), scores
    assert 12.0 < float(np.mean(scores)) < 32.0


def test_each_stage_changes_the_image_on_its_own() -> None:
    clean = _scene()
    only = {
        "color": DegradeConfig(p_noise=0.0, p_jpeg=0.0),
        "noise": DegradeConfig(p_color=0.0, p_jpeg=0.0),
        "jpeg": DegradeConfig(p_color=0.0, p_noise=0.0),
    }
    for name, cfg in only.items():
        out = degrade(clean, np.random.default_rng(3), cfg)
        assert psnr(out, clean) < 45.0, name
    off = DegradeConfig(p_color=0.0, p_noise=0.0, p_jpeg=0.0)
    assert np.array_equal(degrade(clean, np.random.default_rng(3), off), clean)


def test_cast_moves_channel_means_apart() -> None:
    grey = np.full((32, 32, 3), 128, np.uint8)
    cfg = DegradeConfig(cast=(0.7, 1.3), p_noise=0.0, p_jpeg=0.0)
    spreads = [np.ptp(degrade_seeded(grey, s, cfg).reshape(-1, 3).mean(0)) for s in range(5)]
    assert max(spreads) > 10


def test_bad_input_and_bad_config_are_refused() -> None:
    with pytest.raises(ImageError, match="uint8 HxWx3"):
        degrade_seeded(np.zeros((8, 8), np.uint8), 0)
    with pytest.raises(ImageError, match="uint8 HxWx3"):
        degrade_seeded(np.zeros((8, 8, 3), np.float32), 0)
    with pytest.raises(InputError, match="jpeg_quality"):
        DegradeConfig(jpeg_quality=(0, 50))
    with pytest.raises(InputError, match="gamma"):
        DegradeConfig(gamma=(1.5, 1.0))

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
        "color": DegradeConfig(p_noise=0.0, p_jpeg=0.0, p_soft=0.0),
        "noise": DegradeConfig(p_color=0.0, p_jpeg=0.0, p_soft=0.0),
        "jpeg": DegradeConfig(p_color=0.0, p_noise=0.0, p_soft=0.0),
        "soft": DegradeConfig(p_color=0.0, p_noise=0.0, p_jpeg=0.0),
    }
    for name, cfg in only.items():
        out = degrade(clean, np.random.default_rng(3), cfg)
        assert psnr(out, clean) < 45.0, name
    off = DegradeConfig(p_color=0.0, p_noise=0.0, p_jpeg=0.0, p_soft=0.0)
    assert np.array_equal(degrade(clean, np.random.default_rng(3), off), clean)


def test_cast_moves_channel_means_apart() -> None:
    grey = np.full((32, 32, 3), 128, np.uint8)
    cfg = DegradeConfig(cast=(0.7, 1.3), p_noise=0.0, p_jpeg=0.0, p_soft=0.0)
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


COLOR_ONLY = DegradeConfig(p_noise=0.0, p_jpeg=0.0, p_color=1.0)


def test_exposure_and_contrast_go_both_ways() -> None:
    """Two-sided: some draws are brighter and some darker, some harsher and some flatter."""
    clean = _scene()
    outs = [degrade_seeded(clean, s, COLOR_ONLY).astype(np.float32) for s in range(60)]
    means = np.array([o.mean() for o in outs]) - clean.mean()
    stds = np.array([o.std() for o in outs]) / clean.astype(np.float32).std()
    assert (means > 15).sum() >= 5 and (means < -15).sum() >= 5, means.round(1)
    assert (stds > 1.1).sum() >= 3 and (stds < 0.9).sum() >= 3, stds.round(2)


def test_casts_of_every_hue() -> None:
    """On a grey card each channel is, in some draw, the one the cast pushes up the most."""
    grey = np.full((16, 16, 3), 128, np.uint8)
    cfg = DegradeConfig(p_noise=0.0, p_jpeg=0.0, p_color=1.0, p_part=1.0)
    tops = {int(np.argmax(degrade_seeded(grey, s, cfg).reshape(-1, 3).mean(0))) for s in range(30)}
    assert tops == {0, 1, 2}


def test_single_degradations_and_several_at_once_both_occur() -> None:
    """Default draws: some leave colour alone (noise or JPEG only), every draw changes the image."""
    clean = _scene()
    outs = [degrade_seeded(clean, s) for s in range(40)]
    shifts = [
        float(np.abs(o.astype(np.float32).mean((0, 1)) - clean.mean((0, 1))).max()) for o in outs
    ]
    assert all(not np.array_equal(o, clean) for o in outs)
    assert sum(s < 2.0 for s in shifts) >= 3  # noise or JPEG only: colour untouched
    assert sum(s > 10.0 for s in shifts) >= 10  # a colour error, often with more on top


def test_offset_range_is_checked() -> None:
    with pytest.raises(InputError, match="offset"):
        DegradeConfig(offset=(0.3, -0.3))


def test_colour_errors_keep_clear_of_no_change() -> None:
    """Every colour-only draw is a clearly visible error: none falls inside the gaps around
    "no change", where a natural-looking clean photo could also sit (with another target)."""
    clean = _scene()
    scores = [psnr(degrade_seeded(clean, s, COLOR_ONLY), clean) for s in range(40)]
    assert max(scores) < 32.0, np.round(scores, 1)
    wide = DegradeConfig(
        p_noise=0.0,
        p_jpeg=0.0,
        cast_gap=0.0,
        brightness_gap=(1.0, 1.0),
        offset_gap=0.0,
        contrast_gap=(1.0, 1.0),
        gamma_gap=(1.0, 1.0),
    )
    loose = [psnr(degrade_seeded(clean, s, wide), clean) for s in range(40)]
    assert max(loose) > max(scores)  # without the gaps some draws come close to "no change"


def test_gaps_must_lie_inside_their_ranges() -> None:
    with pytest.raises(InputError, match="gamma_gap"):
        DegradeConfig(gamma=(0.7, 1.45), gamma_gap=(0.6, 1.3))
    with pytest.raises(InputError, match="offset_gap"):
        DegradeConfig(offset=(-0.1, 0.1), offset_gap=0.2)
    with pytest.raises(InputError, match="cast_gap"):
        DegradeConfig(cast_gap=1.5)


def _detail(img: np.ndarray) -> float:
    """Mean absolute second difference along x: fine detail (edges, texture, noise)."""
    x = img.astype(np.float32)
    return float(np.abs(x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]).mean())


def test_softening_removes_detail_and_keeps_tones() -> None:
    """Blur and downscale-upscale both lose fine detail; neither moves the mean colour."""
    rng = np.random.default_rng(0)
    clean = np.clip(_scene(64, 64) + rng.normal(0, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
    cfg = DegradeConfig(p_color=0.0, p_noise=0.0, p_jpeg=0.0)
    for seed in range(6):
        out = degrade_seeded(clean, seed, cfg)
        assert out.shape == clean.shape
        assert _detail(out) < 0.8 * _detail(clean), seed
        shift = np.abs(out.mean((0, 1)) - clean.astype(np.float32).mean((0, 1))).max()
        assert shift < 3.0, (seed, shift)


def test_colour_noise_is_coarser_than_pixel_noise() -> None:
    """With colour noise on, neighbouring pixels' noise is correlated (a 2x coarser grid)."""
    grey = np.full((64, 64, 3), 128, np.uint8)
    cfg = DegradeConfig(
        p_color=0.0,
        p_jpeg=0.0,
        p_soft=0.0,
        p_chroma=1.0,
        poisson_peak=(1e6, 1e6),
        gaussian_sigma=(0.0, 0.0),
        chroma_sigma=(12.0, 12.0),
    )
    noise = degrade_seeded(grey, 1, cfg).astype(np.float32) - 128
    assert noise.std() > 3.0
    corr = np.corrcoef(noise[:, 1:].ravel(), noise[:, :-1].ravel())[0, 1]
    assert corr > 0.3, corr

"""PSNR and SSIM against scikit-image's reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ptx.errors import InputError
from ptx.training.common.metrics import psnr, ssim


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:52]
    clean = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=2).astype(np.uint8)
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    return clean, noisy


def test_psnr_matches_skimage(pair) -> None:
    clean, noisy = pair
    assert psnr(noisy, clean) == pytest.approx(peak_signal_noise_ratio(clean, noisy), abs=1e-9)
    assert math.isinf(psnr(clean, clean))


def test_ssim_matches_skimage_gaussian_rgb(pair) -> None:
    clean, noisy = pair
    ref = structural_similarity(
        clean,
        noisy,
        channel_axis=2,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert ssim(noisy, clean) == pytest.approx(ref, abs=1e-9)
    assert ssim(clean, clean) == pytest.approx(1.0)
    assert ssim(noisy, clean) < 0.9


def test_ssim_grey_and_float_range() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((24, 30))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert ssim(a, b, data_range=1.0) == pytest.approx(ref, abs=1e-9)


def test_mismatched_or_tiny_inputs_are_refused() -> None:
    with pytest.raises(InputError, match="differ in shape"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(InputError, match="at least"):
        ssim(np.zeros((5, 5, 3)), np.zeros((5, 5, 3)))

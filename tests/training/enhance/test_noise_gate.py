"""The enhancer's noise gate: the local residual acts only on images that carry noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptx.training.enhance.model import EnhanceNet, NoiseGate, build


def _image(noise_sigma: float, seed: int = 0, size: int = 96) -> torch.Tensor:
    """A smooth gradient with hard-edged blocks (clip-art-like), plus Gaussian noise in levels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 + 0.2 * x * y], 0)
    img[:, 20:60, 30:70] = 0.9  # a hard edge: a denoiser would soften it
    img = img + rng.normal(0.0, noise_sigma / 255.0, img.shape)
    return torch.from_numpy(np.clip(img, 0, 1)).float()[None]


def test_sigma_reads_gaussian_noise_of_the_grey_image() -> None:
    gate = NoiseGate(5.0, 7.0)
    # Independent noise of sigma s per channel is s / sqrt(3) in the channel mean.
    est = float(gate.sigma(_image(18.0)))
    assert est == pytest.approx(18.0 / np.sqrt(3), rel=0.12)
    assert float(gate.sigma(_image(0.0))) < 1.0


def test_gate_is_off_for_clean_and_on_for_noisy_images() -> None:
    gate = NoiseGate(5.0, 7.0)
    assert float(gate(_image(0.0))) == 0.0
    assert float(gate(_image(30.0))) == 1.0
    both = gate(torch.cat([_image(0.0), _image(30.0)]))  # per image, not per batch
    assert both.flatten().tolist() == [0.0, 1.0]


def test_a_clean_image_gets_no_local_residual() -> None:
    torch.manual_seed(0)
    net = EnhanceNet(width=8, thumb=16, levels=4, knots=4, hidden=16).eval()
    torch.nn.init.normal_(net.local.tail.weight, std=0.5)  # a residual that would change pixels
    with torch.no_grad():
        clean, noisy = _image(0.0), _image(30.0)
        tone = net.globe(clean).clamp(0, 1)
        assert torch.equal(net(clean), tone)
        assert not torch.allclose(net(noisy), net.globe(noisy).clamp(0, 1))


def test_gate_can_be_turned_off_and_rejects_a_bad_ramp() -> None:
    assert float(NoiseGate(0.0, 0.0)(_image(0.0))) == 1.0
    with pytest.raises(ValueError, match="noise_from < noise_full"):
        NoiseGate(7.0, 5.0)
    net = build({"width": 8, "thumb": 16, "levels": 4, "knots": 4, "hidden": 16, "noise_full": 0})
    assert net.noise.full == 0.0

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


def _coffee(sharpen: bool, noise: float = 0.0) -> torch.Tensor:
    """scikit-image's coffee (a real photo), unsharp-masked as catalogues do, plus noise."""
    import skimage.data
    from PIL import Image, ImageFilter

    img = Image.fromarray(skimage.data.coffee())
    if sharpen:
        img = img.filter(ImageFilter.UnsharpMask(radius=1.0, percent=80, threshold=0))
    arr = np.asarray(img, dtype=np.float64) / 255.0
    arr = arr + np.random.default_rng(3).normal(0.0, noise / 255.0, arr.shape)
    return torch.from_numpy(np.clip(arr, 0, 1)).float().permute(2, 0, 1)[None]


def test_the_quiet_gate_leaves_a_sharpened_photo_and_still_denoises_a_noisy_one() -> None:
    mean_gate, quiet_gate = NoiseGate(4.5, 6.5), NoiseGate(4.5, 6.5, quiet=0.25)
    sharp = _coffee(sharpen=True)
    assert float(mean_gate.sigma(sharp)) > 6.5  # its detail reads as noise on the whole image
    assert float(mean_gate(sharp)) == 1.0
    assert float(quiet_gate(sharp)) < 0.01  # its quieter quarter is clean
    for noisy in (_coffee(sharpen=False, noise=16.0), _image(30.0)):
        assert float(quiet_gate(noisy)) > 0.99


def test_the_quiet_gate_leaves_out_blocks_at_white() -> None:
    """A noisy product cut out onto a flat near-white backdrop: the backdrop must not vote."""
    img = torch.full((1, 3, 128, 128), 253.5 / 255)
    product = torch.from_numpy(np.random.default_rng(0).normal(0.5, 25 / 255, (3, 48, 128)))
    img[:, :, 40:88, :] = product.clamp(0, 1).float()  # 3/8 of the blocks carry the noise
    assert float(NoiseGate(4.5, 6.5, quiet=0.25)(img)) > 0.99
    assert float(NoiseGate(4.5, 6.5, quiet=0.25)(torch.ones(1, 3, 64, 64))) < 0.01  # all white


def test_the_quiet_gate_is_per_image_and_refuses_a_bad_share() -> None:
    gate = NoiseGate(4.5, 6.5, quiet=0.25)
    both = gate(torch.cat([_image(0.0), _image(30.0)]))
    assert both.flatten().round().tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="0 <= noise_quiet < 1"):
        NoiseGate(4.5, 6.5, quiet=1.0)
    assert build({"noise_quiet": 0.25}).noise.quiet == 0.25


@pytest.mark.parametrize("side", [3, 9, 17, 18, 33])
def test_the_quiet_gate_takes_images_under_a_block_and_partial_blocks(side: int) -> None:
    """Any size the Laplacian takes (3 px up): no pooling window past the image."""
    gate = NoiseGate(4.5, 6.5, quiet=0.25)
    rng = np.random.default_rng(side)
    noisy = torch.from_numpy(np.clip(rng.normal(0.5, 30 / 255, (1, 3, side, side)), 0, 1)).float()
    assert float(gate(torch.full((1, 3, side, side), 0.5))) < 0.01
    assert float(gate(noisy)) > (0.99 if side > 3 else 0.5)  # 3 px: one Laplacian sample

"""The VAE's images: the spec records the fit, and training fits photos by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptx.io import read_image, write_image
from ptx.spec import ImageConvention
from ptx.training.vae.data import load_square, make_batch
from ptx.training.vae.model import TEST_CONFIG, decoder_spec, encoder_spec


def test_both_specs_record_the_crop_fit() -> None:
    assert encoder_spec(TEST_CONFIG).image.fit == "crop"
    assert decoder_spec(TEST_CONFIG).image.fit == "crop"
    assert encoder_spec(TEST_CONFIG).to_dict()["image"]["fit"] == "crop"


@pytest.mark.parametrize("shape", [(20, 36), (40, 24), (700, 600), (16, 16)])
def test_training_fits_a_photo_exactly_as_the_spec_does(tmp_path: Path, shape) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    write_image(tmp_path / "photo.png", rgb)
    conv = encoder_spec(TEST_CONFIG).image
    side = TEST_CONFIG["image_size"]
    got = load_square([tmp_path / "photo.png"], side, False, "test", conv)
    assert got.shape == (1, side, side, 3)
    assert np.array_equal(got[0], conv.fit_image(read_image(tmp_path / "photo.png"), side, side))


def test_batches_follow_the_specs_value_range() -> None:
    imgs = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    unit = make_batch(imgs, 4, 0, 3, encoder_spec(TEST_CONFIG).image)
    signed = make_batch(imgs, 4, 0, 3, ImageConvention(range=(-1.0, 1.0)))
    assert unit.min() >= 0 and unit.max() <= 1
    np.testing.assert_allclose(signed, 2 * unit - 1, atol=1e-6)

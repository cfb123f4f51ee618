"""Products: an alpha in the file is used as is; otherwise the cut-out model, after the enhancer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ptx.errors import InputError
from ptx.studio.models import model_alpha, model_enhance, shipped_enhancer
from ptx.studio.products import crop_to_alpha, prepare_products, read_rgba
from tests.studio.conftest import disc_rgba, photo_on_white, save_rgba


def refuse(images):
    raise AssertionError("the cut-out model must not run on a product that has an alpha")


def test_rgba_alpha_is_used_as_is_and_cropped_to_its_box(tmp_path: Path) -> None:
    rgba = np.zeros((50, 70, 4), np.uint8)
    rgba[10:30, 20:60] = (200, 100, 50, 255)
    rgba[30, 20:60, 3] = 128  # a soft lower edge
    path = save_rgba(tmp_path / "p.png", rgba)
    (product,) = prepare_products([path], alpha_fn=refuse)
    assert product.name == "p" and product.size == (21, 40)
    assert np.allclose(product.alpha[:20], 1.0) and np.allclose(product.alpha[20], 128 / 255)
    assert (product.rgb[:20] == (200, 100, 50)).all()


def test_a_p3_cut_out_keeps_its_alpha_and_gets_srgb_colours(tmp_path: Path) -> None:
    from PIL import ImageCms

    from ptx.benchmarks.harness.icc_profiles import matrix_profile

    icc = matrix_profile("display-p3")
    p3 = ImageCms.ImageCmsProfile(__import__("io").BytesIO(icc))
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 5:25] = (220, 40, 30, 255)  # a saturated red product, stored in P3 values
    rgba[15, 5:25, 3] = 100
    Image.fromarray(rgba, "RGBA").save(tmp_path / "p.png", icc_profile=icc)
    rgb, alpha = read_rgba(tmp_path / "p.png")
    assert alpha is not None and np.isclose(alpha[15, 10], 100 / 255) and alpha[0, 0] == 0
    srgb = ImageCms.createProfile("sRGB")
    want = ImageCms.applyTransform(
        Image.new("RGB", (1, 1), (220, 40, 30)), ImageCms.buildTransform(p3, srgb, "RGB", "RGB")
    ).getpixel((0, 0))
    assert tuple(rgb[10, 10]) == want and want[0] > 235  # more saturated than the stored 220


def test_opaque_rgba_or_plain_photo_needs_a_cutout_model(tmp_path: Path) -> None:
    opaque = tmp_path / "opaque.png"
    Image.fromarray(np.full((8, 8, 4), 255, np.uint8), "RGBA").save(opaque)
    assert read_rgba(opaque)[1] is None
    with pytest.raises(InputError, match="opaque.png: has no alpha channel; give --cutout-model"):
        prepare_products([opaque], alpha_fn=None)


def test_cutout_model_runs_after_the_enhancer(models: dict[str, Path], tmp_path: Path) -> None:
    from ptx.io import write_image

    photo = photo_on_white(40, 64, (20, 60, 180))  # long side = the model's work side
    write_image(tmp_path / "photo.png", photo)
    seen: list[np.ndarray] = []
    cut = model_alpha(models["cutout"])

    def spy(images):
        seen.extend(images)
        return cut(images)

    def enhance(images):
        return [np.clip(im.astype(int) + 1, 0, 255).astype(np.uint8) for im in images]

    (product,) = prepare_products([tmp_path / "photo.png"], alpha_fn=spy, enhance_fn=enhance)
    assert np.array_equal(seen[0], enhance([photo])[0])  # the cut-out saw the enhanced photo
    # the model keys out the white backdrop: the product is the blue box in the middle
    assert product.size == (20, 32)
    assert product.alpha.min() > 0.9


def test_shipped_enhancer_runs_on_products(products: dict[str, Path]) -> None:
    enhance = model_enhance(shipped_enhancer())
    rgba = np.asarray(Image.open(products["red"]))
    (product,) = prepare_products([products["red"]], alpha_fn=None, enhance_fn=enhance)
    assert product.rgb.shape[:2] == product.alpha.shape
    assert np.allclose(product.alpha, crop_to_alpha("x", rgba[..., :3], rgba[..., 3] / 255).alpha)


def test_empty_cutout_is_one_clear_error(tmp_path: Path) -> None:
    rgba = disc_rgba(10, 10, (1, 2, 3))
    rgba[..., 3] = 1
    path = save_rgba(tmp_path / "ghost.png", rgba)
    with pytest.raises(InputError, match="ghost: the cut-out is empty"):
        prepare_products([path], alpha_fn=None)

"""Ad banners: exact sizes; the style model restyles the background and never the product."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.studio.ad import render_ad, worst_contrast
from ptx.studio.canvas import scale_product
from ptx.studio.layout import resolve
from ptx.studio.models import model_style
from ptx.studio.products import prepare_products

SIZES = [[240, 126], [216, 216], [160, 600]]


def ad_layout(**fields) -> dict:
    return resolve("ad", {"sizes": SIZES, **fields})


def opaque_mask_and_pixels(product, layout: dict, size) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Where the product lands with alpha 1, and its scaled pixels there (computed apart)."""
    w, h = size
    boxes = layout["landscape"] if w > h * 1.15 else layout["portrait"]
    px, py, pw, ph = (round(boxes["product"][i] * (w, h, w, h)[i]) for i in range(4))
    bh, bw = product.box_size  # the core box (alpha >= 0.5) is what is fitted and centred
    s = min(pw * layout["fill"] / bw, ph * layout["fill"] / bh)
    premul, alpha = scale_product(product, s)
    sy, sx = alpha.shape[0] / product.size[0], alpha.shape[1] / product.size[1]
    y0, y1, x0, x1 = product.box
    x = int(round(px + pw / 2 - (round(x0 * sx) + round(x1 * sx)) / 2))
    y = int(round(py + (ph + bh * s) / 2 - round(y1 * sy)))
    return alpha >= 1.0, np.clip(np.rint(premul), 0, 255).astype(np.uint8), (x, y)


@pytest.mark.parametrize("background", ["generated", "colour"])
def test_product_pixels_stay_intact_under_the_restyle(
    models: dict[str, Path], products: dict[str, Path], background: str
) -> None:
    (product,) = prepare_products([products["blue"]], alpha_fn=None)
    layout = ad_layout(background=background)
    style = model_style(models["style"])
    for size in SIZES:
        styled = render_ad(product, tuple(size), layout, "Big sale", "Buy", style_fn=style)
        plain = render_ad(product, tuple(size), layout, "Big sale", "Buy")
        assert styled.shape == plain.shape == (size[1], size[0], 3)
        opaque, pixels, (x, y) = opaque_mask_and_pixels(product, layout, size)
        assert opaque.sum() > 100
        h, w = opaque.shape
        region = styled[y : y + h, x : x + w]
        assert np.array_equal(region[opaque], pixels[opaque])  # the product's own pixels
        assert np.array_equal(region[opaque], plain[y : y + h, x : x + w][opaque])
        outside = np.ones(styled.shape[:2], bool)
        outside[y : y + h, x : x + w] = False
        changed = np.abs(styled.astype(int) - plain.astype(int)).max(axis=2) > 20
        assert changed[outside].mean() > 0.5  # the background was restyled


def test_background_image_is_cropped_to_size_and_required(
    products: dict[str, Path], tmp_path: Path
) -> None:
    (product,) = prepare_products([products["red"]], alpha_fn=None)
    photo = np.random.default_rng(0).integers(0, 256, (90, 50, 3), dtype=np.uint8)
    out = render_ad(product, (300, 120), ad_layout(background="image"), "Hi", "Go", photo)
    assert out.shape == (120, 300, 3)
    with pytest.raises(InputError, match="give --background IMAGE"):
        render_ad(product, (300, 120), ad_layout(background="image"), "Hi", "Go")


def test_headline_is_readable_on_a_busy_background(products: dict[str, Path]) -> None:
    (product,) = prepare_products([products["red"]], alpha_fn=None)
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # dark and light everywhere
    layout = ad_layout(background="image", cta="")
    out = render_ad(product, (400, 210), layout, "Headline", "", noise)
    frac = layout["landscape"]["headline"]
    x, y, w, h = (round(f * s) for f, s in zip(frac, (400, 210, 400, 210), strict=True))
    region = out[y : y + h, x : x + w]
    # a light panel went under the dark text: the middle rows are panel or ink, not noise
    mid = region[h // 2 - 2 : h // 2 + 2].reshape(-1, 3).astype(int)
    clean = (mid.min(axis=1) >= 150) | (mid.max(axis=1) <= 60)
    assert clean.mean() > 0.7
    raw = np.asarray(noise).reshape(-1, 3).astype(int)
    assert ((raw.min(axis=1) >= 150) | (raw.max(axis=1) <= 60)).mean() < 0.2  # noise is not
    assert worst_contrast((17, 24, 39), np.full((2, 2, 3), 255, np.uint8)) > 15


@pytest.mark.parametrize("size", [(1200, 628), (1080, 1080), (300, 250)])
def test_long_headline_and_cta_stay_in_their_boxes(products: dict[str, Path], size) -> None:
    (product,) = prepare_products([products["green"]], alpha_fn=None)
    layout = ad_layout(background="colour", background_colour="#ffffff")
    long = "An unbelievably long headline " * 8 + "Pneumonoultramicroscopicsilicovolcanoconiosis"
    full = render_ad(product, size, layout, long, "Add to basket and check out right now")
    bare = render_ad(product, size, layout, "", "")
    w, h = size
    boxes = layout["landscape"] if w > h * 1.15 else layout["portrait"]
    allowed = np.zeros((h, w), bool)
    for key in ("headline", "cta"):
        x, y, bw, bh = (round(f * s) for f, s in zip(boxes[key], (w, h, w, h), strict=True))
        allowed[y : y + bh, x : x + bw] = True
        assert (full[y : y + bh, x : x + bw] != bare[y : y + bh, x : x + bw]).any()
    drawn = (full != bare).any(axis=2)
    assert not (drawn & ~allowed).any()

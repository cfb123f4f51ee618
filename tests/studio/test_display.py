"""Display images: exact sizes, the product's box filling its fraction, centred, a shadow below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptx.studio.display import combination, render_display
from ptx.studio.layout import resolve
from ptx.studio.products import Product, crop_to_alpha, prepare_products


def solid(h: int, w: int, colour: tuple[int, int, int], name: str = "p") -> Product:
    """A fully opaque rectangle product (its box is the whole crop)."""
    return Product(name, np.full((h, w, 3), colour, np.uint8), np.ones((h, w), np.float32))


def ink(img: np.ndarray, bg=(255, 255, 255), tol: int = 3) -> np.ndarray:
    return np.abs(img.astype(int) - np.asarray(bg)).max(axis=2) > tol


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("size", [(500, 500), (333, 517), (640, 200)])
@pytest.mark.parametrize("kind", ["single", "grid", "combination"])
def test_every_arrangement_has_the_exact_size(products: dict[str, Path], size, kind) -> None:
    files = [products[k] for k in ("red", "green", "blue")]
    items = prepare_products(files, alpha_fn=None)
    layout = resolve("display", {"size": list(size), "arrangement": kind})
    images = render_display(items, layout)
    assert len(images) == (3 if kind == "single" else 1)
    for img in images:
        assert img.shape == (size[1], size[0], 3) and img.dtype == np.uint8


@pytest.mark.parametrize("fill", [0.5, 0.8])
def test_product_box_fills_the_fraction_and_is_centred(fill: float) -> None:
    layout = resolve("display", {"size": [400, 300], "fill": fill, "shadow": {"opacity": 0}})
    (img,) = render_display([solid(50, 100, (200, 30, 30))], layout)
    x0, y0, x1, y1 = bbox(ink(img))
    # the wide product's width is the limiting side: fill x 400 px
    assert abs((x1 - x0) - fill * 400) <= 1 and abs((y1 - y0) - fill * 200) <= 1
    assert abs((x0 + x1) / 2 - 200) <= 1 and abs((y0 + y1) / 2 - 150) <= 1


def test_contact_shadow_is_below_the_product_and_soft() -> None:
    layout = resolve("display", {"size": [300, 300], "fill": 0.5})
    product = solid(60, 60, (30, 30, 200))
    (img,) = render_display([product], layout)
    flat = resolve("display", {"size": [300, 300], "fill": 0.5, "shadow": {"opacity": 0}})
    (plain,) = render_display([product], flat)
    x0, y0, x1, y1 = bbox(ink(plain))
    shade = 255 - img.astype(int).mean(axis=2)
    assert shade[y1 : y1 + 6, x0:x1].mean() > 8  # darker just below the product
    assert shade[: y0 - 2].max() == 0  # nothing above it
    below = shade[y1:, (x0 + x1) // 2]
    assert below[0] > below[3] > below[7] > 0  # fades with distance: soft, not a hard edge
    assert below[40] == 0
    assert np.array_equal(img[y0:y1, x0:x1], plain[y0:y1, x0:x1])  # the product itself untouched


def test_grid_keeps_each_product_in_its_own_cell() -> None:
    colours = [(200, 30, 30), (30, 160, 30), (30, 30, 200), (200, 160, 30)]
    layout = resolve("display", {"size": [400, 400], "shadow": {"opacity": 0}})
    (img,) = render_display([solid(40, 40, c) for c in colours], layout)
    for i, c in enumerate(colours):
        r, col = divmod(i, 2)
        cell = img[r * 200 : (r + 1) * 200, col * 200 : (col + 1) * 200]
        assert (np.abs(cell.astype(int) - c).max(axis=2) < 3).mean() > 0.3


def test_combination_shares_one_floor_and_puts_the_hero_in_front() -> None:
    layout = resolve("display", {"size": [600, 400], "shadow": {"opacity": 0}, "overlap": 0.3})
    hero, left, right = (200, 30, 30), (30, 160, 30), (30, 30, 200)
    items = [solid(80, 60, hero), solid(50, 50, right), solid(120, 40, left)]
    img = combination(items, layout)
    bottoms = []
    for c in (hero, right, left):
        mask = np.abs(img.astype(int) - c).max(axis=2) < 3
        bottoms.append(bbox(mask)[3])
    assert max(bottoms) - min(bottoms) <= 1  # one floor
    hx0, _, hx1, _ = bbox(np.abs(img.astype(int) - hero).max(axis=2) < 3)
    assert abs((hx0 + hx1) / 2 - 300) < 60  # the hero near the middle...
    rx0 = bbox(np.abs(img.astype(int) - right).max(axis=2) < 3)[0]
    lx1 = bbox(np.abs(img.astype(int) - left).max(axis=2) < 3)[2]
    assert rx0 >= hx1 - 1 and lx1 <= hx0 + 1  # ...in front: the overlapped parts are the hero's
    assert rx0 < hx1 + 50  # the others overlap it (their hidden part is behind the hero)


def test_faint_haze_around_a_product_does_not_shrink_or_shift_it() -> None:
    """A cut-out model's low alpha around the product is drawn, but the layout uses the core."""
    alpha = np.full((100, 160), 0.1, np.float32)  # haze over the whole photo
    alpha[40:80, 20:60] = 1.0  # the product: off-centre, 40 x 40
    hazy = Product("h", np.full((100, 160, 3), (30, 30, 200), np.uint8), alpha)
    hazy = crop_to_alpha("h", hazy.rgb, alpha)
    assert hazy.size == (100, 160) and hazy.box == (40, 80, 20, 60)
    layout = resolve("display", {"size": [300, 300], "fill": 0.5})
    (img,) = render_display([hazy], layout)
    x0, y0, x1, y1 = bbox(img[..., 0] < 120)  # at least half product (haze over white: 232)
    assert abs((x1 - x0) - 150) <= 1 and abs((y1 - y0) - 150) <= 1  # the core fills 50%
    assert abs((x0 + x1) / 2 - 150) <= 1 and abs((y0 + y1) / 2 - 150) <= 1  # and is centred

"""Display-page images: one product, a grid of products, or several arranged in one frame.

Every product is centred on a plain background at a marketplace size, its alpha's
bounding box filling ``fill`` of its cell, with a soft contact shadow under it.
"""

from __future__ import annotations

import math

import numpy as np

from ptx.errors import InputError
from ptx.studio.canvas import Placed, fit_scale, new_canvas, place, place_with_shadow, to_pixels
from ptx.studio.products import Product


def _cell(
    canvas: np.ndarray, product: Product, x: float, y: float, w: float, h: float, layout: dict
) -> None:
    """One product centred in the cell (x, y, w, h), its box filling ``fill`` of the cell."""
    s = fit_scale(product, w * layout["fill"], h * layout["fill"])
    ph = product.box_size[0] * s
    bottom = y + (h + ph) / 2  # centred vertically
    place_with_shadow(canvas, place(product, s, x + w / 2, bottom), layout["shadow"])


def single(product: Product, layout: dict) -> np.ndarray:
    """One product centred on the canvas."""
    w, h = layout["size"]
    canvas = new_canvas(w, h, layout["background"])
    _cell(canvas, product, 0, 0, w, h, layout)
    return to_pixels(canvas)


def grid_shape(n: int, columns: int, width: int, height: int) -> tuple[int, int]:
    """(columns, rows) for n products: ``columns`` if set, else the most square cells."""
    if columns:
        return columns, math.ceil(n / columns)
    best = min(
        range(1, n + 1),
        key=lambda c: (abs(math.log((width / c) / (height / math.ceil(n / c)))), c),
    )
    return best, math.ceil(n / best)


def grid(products: list[Product], layout: dict) -> np.ndarray:
    """Products in a grid of equal cells separated by ``gap`` (a fraction of the width)."""
    w, h = layout["size"]
    cols, rows = grid_shape(len(products), layout["columns"], w, h)
    gap = layout["gap"] * w
    cw, ch = (w - gap * (cols + 1)) / cols, (h - gap * (rows + 1)) / rows
    if cw < 4 or ch < 4:
        raise InputError(f"display: {len(products)} products do not fit a {w}x{h} grid")
    canvas = new_canvas(w, h, layout["background"])
    for i, product in enumerate(products):
        r, c = divmod(i, cols)
        left_over = len(products) - r * cols  # centre a short last row
        offset = (cols - min(cols, left_over)) * (cw + gap) / 2
        _cell(canvas, product, gap + c * (cw + gap) + offset, gap + r * (ch + gap), cw, ch, layout)
    return to_pixels(canvas)


def combination(products: list[Product], layout: dict) -> np.ndarray:
    """Products grouped in one frame on a shared floor: the first (the hero) in front, centred.

    The others stand behind it at ``secondary_scale`` of its height, alternately
    right and left, each overlapping its inner neighbour by ``overlap`` of its width;
    the group's box fills ``fill`` of the canvas.
    """
    w, h = layout["size"]
    hero_h = 1.0
    heights = [hero_h] + [hero_h * layout["secondary_scale"]] * (len(products) - 1)
    widths = [p.box_size[1] / p.box_size[0] * ph for p, ph in zip(products, heights, strict=True)]
    # positions in hero-height units: hero centred at 0; others stack outwards, one side each
    centres = [0.0]
    edges = {1: widths[0] / 2, -1: -widths[0] / 2}
    for i in range(1, len(products)):
        side = 1 if i % 2 else -1
        step = widths[i] * (1 - layout["overlap"])
        centres.append(edges[side] + side * (step - widths[i] / 2))
        edges[side] += side * step
    left, right = edges[-1], edges[1]
    group_w, group_h = right - left, max(heights)
    unit = min(w * layout["fill"] / group_w, h * layout["fill"] / group_h)
    floor = (h + group_h * unit) / 2
    mid = w / 2 - (left + right) / 2 * unit
    canvas = new_canvas(w, h, layout["background"])
    placed: list[tuple[int, Placed]] = []
    for i, p in enumerate(products):
        s = heights[i] * unit / p.box_size[0]
        placed.append((i, place(p, s, mid + centres[i] * unit, floor)))
    for _, item in sorted(placed, key=lambda t: -t[0]):  # outermost first, hero last
        place_with_shadow(canvas, item, layout["shadow"])
    return to_pixels(canvas)


def arrangement(n: int, layout: dict) -> str:
    """The arrangement to use for n products: ``auto`` is single for one, grid for more."""
    kind = layout["arrangement"]
    if kind == "auto":
        return "single" if n == 1 else "grid"
    return kind


def render_display(products: list[Product], layout: dict) -> list[np.ndarray]:
    """The display images: one per product for ``single``, else one frame for all."""
    if not products:
        raise InputError("display: no products")
    kind = arrangement(len(products), layout)
    if kind == "single":
        return [single(p, layout) for p in products]
    if kind == "grid":
        return [grid(products, layout)]
    return [combination(products, layout)]

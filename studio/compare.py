"""Comparison images: N products side by side at one scale on one baseline, captioned from a CSV.

The CSV has a header row with ``name`` (required), optionally ``image`` or ``file``
(matched to the input file's stem or name; without it rows follow the inputs'
order) and ``price``; every other column is an attribute shown as ``column: value``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ptx.errors import InputError
from ptx.studio.canvas import fit_scale, new_canvas, place, place_with_shadow, to_pixels
from ptx.studio.products import Product
from ptx.studio.text import FittedText, contrast_colour, draw_text, find_font, fit_text

KEY_COLUMNS = ("image", "file")
NAME_SHARE = 0.34  # of the caption box height; the details get the rest


@dataclass
class Caption:
    """What is written under one product."""

    name: str
    price: str = ""
    attributes: list[tuple[str, str]] = field(default_factory=list)

    def details(self) -> str:
        """Price, then one attribute per line."""
        lines = [self.price] if self.price else []
        lines += [f"{k}: {v}" for k, v in self.attributes]
        return "\n".join(lines)


def read_captions(path: str | Path, products: list[Product]) -> list[Caption]:
    """One Caption per product from the CSV, matched by its image/file column or by order."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such captions file")
    with p.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in reader.fieldnames or []]
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    if "name" not in fields:
        raise InputError(f"{p}: needs a 'name' column (has: {', '.join(fields) or 'none'})")
    key = next((k for k in KEY_COLUMNS if k in fields), None)
    attrs = [c for c in fields if c not in ("name", "price", *KEY_COLUMNS)]

    def caption(row: dict) -> Caption:
        return Caption(row["name"], row.get("price", ""), [(a, row[a]) for a in attrs if row[a]])

    if key is None:
        if len(rows) != len(products):
            raise InputError(
                f"{p}: {len(rows)} rows for {len(products)} products; add an 'image' column "
                "to match rows to files, or give one row per product in order"
            )
        return [caption(r) for r in rows]
    by_stem = {Path(r[key]).stem: r for r in rows}
    missing = [pr.name for pr in products if pr.name not in by_stem]
    if missing:
        raise InputError(f"{p}: no row whose '{key}' is {missing[0]}")
    return [caption(by_stem[pr.name]) for pr in products]


def _fit_all(texts: list[str], w: int, h: int, style: dict, bold: bool) -> list[FittedText]:
    """Each text fitted at one common size (the smallest any of them needs), for even rows."""
    path = find_font(style["font"], bold=bold)
    first = [fit_text(t, w, h, path, style["max_size"], style["min_size"]) for t in texts]
    size = min(f.size for f in first)
    return [fit_text(t, w, h, path, size, style["min_size"]) for t in texts]


def render_compare(products: list[Product], captions: list[Caption], layout: dict) -> np.ndarray:
    """Products in equal columns, bottoms on one line, captions below at one text size.

    ``scale`` same: one scale for all (sizes compare as in the photos); fit: each
    product as large as its column allows.
    """
    if not products:
        raise InputError("compare: no products")
    w, h = layout["size"]
    n = len(products)
    gap = layout["gap"] * w
    cw = (w - gap * (n + 1)) / n
    caption_h = layout["caption_height"] * h
    area_h = h - caption_h - 2 * gap
    if cw < 8 or area_h < 8:
        raise InputError(f"compare: {n} products do not fit {w}x{h}; use a wider size")
    fill = layout["fill"]
    scales = [fit_scale(p, cw * fill, area_h * fill) for p in products]
    if layout["scale"] == "same":
        scales = [min(scales)] * n
    baseline = gap + area_h - area_h * (1 - fill) / 2
    canvas = new_canvas(w, h, layout["background"])
    for i, (p, s) in enumerate(zip(products, scales, strict=True)):
        cx = gap + i * (cw + gap) + cw / 2
        place_with_shadow(canvas, place(p, s, cx, baseline), layout["shadow"])
    image = Image.fromarray(to_pixels(canvas))
    boxes = [caption_box(i, n, w, h, layout) for i in range(n)]
    bw, bh = boxes[0][2], boxes[0][3]
    name_h = int(bh * NAME_SHARE)
    names = _fit_all([c.name for c in captions], bw, name_h, layout["name"], bold=True)
    details = _fit_all([c.details() for c in captions], bw, bh - name_h, layout["details"], False)
    for (x, y, _, _), name, detail in zip(boxes, names, details, strict=True):
        region = np.asarray(image)[y : y + bh, x : x + bw]
        colour = layout["text_colour"] or contrast_colour(region)
        draw_text(image, name, (x, y, bw, name_h), colour, align="centre")
        draw_text(image, detail, (x, y + name_h, bw, bh - name_h), colour, align="centre")
    return np.asarray(image)


def caption_box(i: int, n: int, width: int, height: int, layout: dict) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the i-th of n caption boxes, under its product's column."""
    gap = layout["gap"] * width
    cw = (width - gap * (n + 1)) / n
    caption_h = layout["caption_height"] * height
    return int(gap + i * (cw + gap)), int(height - caption_h - gap / 2), int(cw), int(caption_h)

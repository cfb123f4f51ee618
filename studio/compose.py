"""The three compose jobs, paths in and files out: products are prepared (and every error
raised) before the first file is written, and each file is written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.errors import InputError
from ptx.io import read_image, write_image
from ptx.studio.ad import StyleFn, render_ad
from ptx.studio.compare import Caption, read_captions, render_compare
from ptx.studio.display import arrangement, render_display
from ptx.studio.products import AlphaFn, EnhanceFn, Product, prepare_products, product_files

OUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class Models:
    """The model steps a job runs (None = skipped): enhance, cut-out and style."""

    alpha: AlphaFn | None = None
    enhance: EnhanceFn | None = None
    style: StyleFn | None = None


def _is_file(out: Path) -> bool:
    return out.suffix != "" and not out.is_dir()


def out_paths(out: str | Path, names: list[str], fmt: str = "png") -> list[Path]:
    """Where each image goes: ``out`` itself for one image named by a file suffix, else
    ``out/<name>.<fmt>``; a file ``out`` with several images gets ``<stem>-<name><suffix>``."""
    p = Path(out)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"two products are named '{twice[0]}'; rename one (outputs use the stem)")
    if _is_file(p):
        if p.suffix.lower() not in OUT_SUFFIXES:
            raise InputError(f"{p}: unsupported output format (use {', '.join(OUT_SUFFIXES)})")
        if len(names) == 1:
            return [p]
        return [p.with_name(f"{p.stem}-{n}{p.suffix}") for n in names]
    if f".{fmt.lower()}" not in OUT_SUFFIXES:
        raise InputError(f"--format {fmt}: unsupported (use png, jpg or webp)")
    return [p / f"{n}.{fmt.lower()}" for n in names]


def _write(paths: list[Path], images: list[np.ndarray]) -> list[Path]:
    for path, img in zip(paths, images, strict=True):
        write_image(path, img)
    return paths


def _products(inputs: Sequence[str | Path], models: Models, work_side: int) -> list[Product]:
    return prepare_products(product_files(inputs), models.alpha, models.enhance, work_side)


def compose_display(
    inputs: Sequence[str | Path], out: str | Path, layout: dict, models: Models, fmt: str = "png"
) -> list[Path]:
    """Display images: one per product (single) or one frame (grid / combination)."""
    products = _products(inputs, models, max(layout["size"]) * 2)
    kind = arrangement(len(products), layout)
    names = [p.name for p in products] if kind == "single" else [kind]
    if kind != "single" and _is_file(Path(out)):
        names = [Path(out).stem]
    paths = out_paths(out, names, fmt)
    return _write(paths, render_display(products, layout))


def compose_compare(
    inputs: Sequence[str | Path],
    out: str | Path,
    layout: dict,
    models: Models,
    captions: str | Path | None = None,
    fmt: str = "png",
) -> list[Path]:
    """One comparison image of every product, captioned from the CSV (names only without one)."""
    products = _products(inputs, models, max(layout["size"]) * 2)
    if len(products) < 2:
        raise InputError(f"compare: needs at least 2 products, got {len(products)}")
    if captions is not None:
        caps = read_captions(captions, products)
    else:
        caps = [Caption(p.name) for p in products]
    paths = out_paths(out, ["compare"] if not _is_file(Path(out)) else [Path(out).stem], fmt)
    return _write(paths, [render_compare(products, caps, layout)])


def compose_ad(
    inputs: Sequence[str | Path],
    out: str | Path,
    layout: dict,
    models: Models,
    background: str | Path | None = None,
    fmt: str = "png",
) -> list[Path]:
    """One banner per product and layout size: ``<name>-<W>x<H>``."""
    products = _products(inputs, models, max(max(s) for s in layout["sizes"]) * 2)
    bg = read_image(background) if background is not None else None
    if bg is not None and layout["background"] == "generated":
        layout = {**layout, "background": "image"}
    sizes = layout["sizes"]
    jobs = [(p, s) for p in products for s in sizes]
    names = [f"{p.name}-{w}x{h}" for p, (w, h) in jobs]
    if _is_file(Path(out)) and len(products) == 1:
        names = [f"{w}x{h}" for w, h in sizes]
    paths = out_paths(out, names, fmt)
    for path, (product, size) in zip(paths, jobs, strict=True):  # one banner in memory at a time
        text = layout["headline"], layout["cta"]
        write_image(path, render_ad(product, size, layout, *text, bg, models.style))
    return paths

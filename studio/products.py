"""Products for the studio: read (keeping an alpha channel), enhance, cut out, crop to the product.

The order is the issue's: enhance the photo, then cut it out. A product image that
already carries an alpha channel (an RGBA PNG) keeps that alpha as is; any other
needs a ptx cut-out model. The model steps themselves are
functions (studio.models builds them from ptx models).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.colour import to_srgb
from ptx.errors import ImageError, InputError
from ptx.image import resize_bilinear
from ptx.io import IMAGE_FORMATS, list_images, max_pixels

ALPHA_FLOOR = 2 / 255  # alpha at or below this is background: the crop keeps the rest
CORE_ALPHA = 0.5  # the product's box (what a layout scales, centres and stands on) is alpha >= this
WORK_SIDE = 2048  # products are shrunk to this long side first: no layout needs more

AlphaFn = Callable[[list[np.ndarray]], list[np.ndarray]]  # RGB uint8 -> alpha float32 HxW
EnhanceFn = Callable[[list[np.ndarray]], list[np.ndarray]]  # RGB uint8 -> RGB uint8


@dataclass
class Product:
    """One product cropped to its alpha's bounding box: uint8 RGB and float32 alpha in 0..1.

    ``core`` (y0, y1, x0, x1 in the crop) is the box of alpha >= CORE_ALPHA: layouts
    fit, centre and stand the product on it, so a faint haze a cut-out model leaves
    around a product is drawn but does not shrink or shift it (None: the whole crop).
    """

    name: str
    rgb: np.ndarray
    alpha: np.ndarray
    core: tuple[int, int, int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the crop."""
        return self.alpha.shape[0], self.alpha.shape[1]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) of the product's core box in the crop."""
        return self.core or (0, self.size[0], 0, self.size[1])

    @property
    def box_size(self) -> tuple[int, int]:
        """(height, width) of the core box: what a layout scales to fit."""
        y0, y1, x0, x1 = self.box
        return y1 - y0, x1 - x0


def read_rgba(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 RGB and float32 alpha (None when the file has no transparency) of an image file."""
    from PIL import Image, ImageOps

    p = Path(path)
    if not p.is_file():
        raise ImageError(f"{p}: no such file")
    data = p.read_bytes()
    try:
        img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        w, h = img.size
        if w * h > max_pixels():
            raise ImageError(f"{p}: {w}x{h} is over the {max_pixels() / 1e6:.0f} MP limit")
        img.load()
        img = ImageOps.exif_transpose(img)
        has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
        rgba = np.asarray(to_srgb(img, str(p)).convert("RGBA"))  # a P3 cut-out: sRGB pixels
    except ImageError:
        raise
    except Exception as exc:  # Pillow raises many kinds on bad files; one line for all
        raise ImageError(f"{p}: not a readable image ({type(exc).__name__})") from None
    alpha = rgba[..., 3].astype(np.float32) / 255.0 if has_alpha else None
    if alpha is not None and alpha.min() >= 1.0:
        alpha = None  # an opaque RGBA is an ordinary photo: it needs the cut-out
    return np.ascontiguousarray(rgba[..., :3]), alpha


def product_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Every image in the given files and folders (folders recursive, sorted), in order."""
    files: list[Path] = []
    for given in inputs:
        files.extend(list_images(given))
    if not files:
        raise InputError(f"no images found in {', '.join(str(i) for i in inputs)}")
    return files


def shrink(img: np.ndarray, side: int) -> np.ndarray:
    """``img`` resized so its long side is at most ``side`` (aspect kept)."""
    h, w = img.shape[:2]
    if max(h, w) <= side:
        return img
    s = side / max(h, w)
    return resize_bilinear(img, max(1, round(h * s)), max(1, round(w * s)))


def crop_to_alpha(name: str, rgb: np.ndarray, alpha: np.ndarray) -> Product:
    """The product cropped to the box where alpha > ALPHA_FLOOR; InputError when it is empty."""
    rows = np.flatnonzero((alpha > ALPHA_FLOOR).any(axis=1))
    cols = np.flatnonzero((alpha > ALPHA_FLOOR).any(axis=0))
    if rows.size == 0:
        raise InputError(f"{name}: the cut-out is empty (no product found); check the image")
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    alpha = np.where(alpha > ALPHA_FLOOR, alpha, 0.0).astype(np.float32)[y0:y1, x0:x1].copy()
    solid = alpha >= CORE_ALPHA
    core = None
    if solid.any():
        r, c = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
        core = (int(r[0]), int(r[-1] + 1), int(c[0]), int(c[-1] + 1))
    return Product(name, np.ascontiguousarray(rgb[y0:y1, x0:x1]), alpha, core)


def prepare_products(
    files: Sequence[str | Path],
    alpha_fn: AlphaFn | None,
    enhance_fn: EnhanceFn | None = None,
    work_side: int = WORK_SIDE,
) -> list[Product]:
    """Read, shrink, enhance, then cut out every file (an alpha in the file is used as is)."""
    products: list[Product] = []
    for f in files:
        rgb, alpha = read_rgba(f)
        rgb = shrink(rgb, work_side)
        if alpha is not None:
            alpha = np.clip(shrink(alpha, work_side), 0.0, 1.0)
        if enhance_fn is not None:
            rgb = enhance_fn([rgb])[0]
        if alpha is None:
            if alpha_fn is None:
                raise InputError(
                    f"{f}: has no alpha channel; give --cutout-model (a ptx cutout model) "
                    "or an RGBA PNG"
                )
            alpha = np.clip(np.asarray(alpha_fn([rgb])[0], dtype=np.float32), 0.0, 1.0)
            if alpha.shape != rgb.shape[:2]:
                raise InputError(
                    f"{f}: the cut-out gave an alpha of {alpha.shape}, not {rgb.shape[:2]}"
                )
        products.append(crop_to_alpha(Path(f).stem, rgb, alpha))
    return products

"""Compositing on a float canvas: products placed with premultiplied alpha, contact shadows.

The canvas is float32 HxWx3 in 0..255. A product is scaled with its colour
premultiplied by alpha (so no background colour bleeds into its edge), and laid
over the canvas as ``out = product + canvas * (1 - alpha)``: where alpha is 1 the
output is the scaled product's own pixels, whatever the background was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptx.image import resize_bilinear
from ptx.studio.products import Product


@dataclass(frozen=True)
class Placed:
    """A product scaled for the canvas: premultiplied RGB, alpha, top-left corner, core box."""

    premul: np.ndarray  # float32 h x w x 3, 0..255, multiplied by alpha
    alpha: np.ndarray  # float32 h x w, 0..1
    x: int
    y: int
    box: tuple[int, int, int, int]  # the product's core (y0, y1, x0, x1) in this patch

    @property
    def height(self) -> int:
        """Height in canvas px."""
        return self.alpha.shape[0]

    @property
    def width(self) -> int:
        """Width in canvas px."""
        return self.alpha.shape[1]

    @property
    def bottom(self) -> int:
        """The canvas row just below the product's core: where it stands."""
        return self.y + self.box[1]


def new_canvas(width: int, height: int, colour: tuple[int, int, int]) -> np.ndarray:
    """A float32 canvas of one colour."""
    return np.broadcast_to(np.asarray(colour, np.float32), (height, width, 3)).copy()


def to_pixels(canvas: np.ndarray) -> np.ndarray:
    """The canvas as uint8 RGB (rounded, clipped)."""
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def scale_product(product: Product, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(premultiplied RGB, alpha) of ``product`` resized by ``scale`` (at least 1 px)."""
    h, w = product.size
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    a = product.alpha.astype(np.float32)
    premul = product.rgb.astype(np.float32) * a[..., None]
    if (th, tw) == (h, w):
        return premul, a
    return resize_bilinear(premul, th, tw), np.clip(resize_bilinear(a, th, tw), 0.0, 1.0)


def place(product: Product, scale: float, cx: float, bottom: float) -> Placed:
    """``product`` scaled, its core box centred on column ``cx`` and standing on row ``bottom``."""
    premul, alpha = scale_product(product, scale)
    sy, sx = alpha.shape[0] / product.size[0], alpha.shape[1] / product.size[1]
    y0, y1, x0, x1 = product.box
    box = (round(y0 * sy), round(y1 * sy), round(x0 * sx), round(x1 * sx))
    x = int(round(cx - (box[2] + box[3]) / 2))
    return Placed(premul, alpha, x, int(round(bottom - box[1])), box)


def fit_scale(product: Product, width: float, height: float) -> float:
    """The scale that makes the product's core box as large as fits in width x height."""
    h, w = product.box_size
    return min(width / w, height / h)


def _window(canvas: np.ndarray, x: int, y: int, h: int, w: int):
    """Canvas and source slices of an h x w patch at (x, y), clipped to the canvas."""
    ch, cw = canvas.shape[:2]
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, ch), min(x + w, cw)
    if y0 >= y1 or x0 >= x1:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def composite(canvas: np.ndarray, placed: Placed) -> None:
    """Lay ``placed`` over the canvas in place (parts outside the canvas are dropped)."""
    win = _window(canvas, placed.x, placed.y, placed.height, placed.width)
    if win is None:
        return
    dst, src = win
    a = placed.alpha[src][..., None]
    canvas[dst] = placed.premul[src] + canvas[dst] * (1.0 - a)


def _blur_axis(img: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    """A Gaussian blur along one axis, zeros beyond the edges (shadow masks fade to nothing)."""
    if sigma <= 0.25:
        return img
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1, dtype=np.float32) / sigma) ** 2)
    k /= k.sum()
    x = np.moveaxis(img, axis, 0)
    padded = np.pad(x, ((r, r),) + ((0, 0),) * (x.ndim - 1))
    out = np.zeros_like(x, dtype=np.float32)
    n = x.shape[0]
    for i, weight in enumerate(k):  # 6 sigma shifted adds: cheap next to a dense matrix
        out += weight * padded[i : i + n]
    return np.moveaxis(out, 0, axis)


def blur(img: np.ndarray, sigma_y: float, sigma_x: float) -> np.ndarray:
    """A separable Gaussian blur of a 2-D float array (numpy only, no scipy)."""
    return _blur_axis(_blur_axis(img.astype(np.float32), sigma_y, 0), sigma_x, 1)


def _shadow_layer(
    silhouette: np.ndarray, cx: float, centre_y: float, band_h: int, sigma: float
) -> tuple[np.ndarray, int, int]:
    """A squashed, blurred silhouette band: (mask, x, y) on the canvas."""
    w = silhouette.shape[0]
    band = np.repeat(silhouette[None, :], max(1, band_h), axis=0)
    # an ellipse-like falloff across the band's height: darkest at its middle line
    t = (np.arange(band.shape[0], dtype=np.float32) + 0.5) / band.shape[0] * 2 - 1
    band = band * np.sqrt(np.clip(1 - t**2, 0, 1))[:, None]
    pad = int(np.ceil(3 * sigma)) + 1
    band = np.pad(band, ((pad, pad), (pad, pad)))
    mask = blur(band, sigma * 0.6, sigma)
    return mask, int(round(cx - w / 2)) - pad, int(round(centre_y - band.shape[0] / 2))


def contact_shadow(canvas: np.ndarray, placed: Placed, shadow: dict, side: int) -> None:
    """Darken the canvas under ``placed`` with a soft shadow made from its alpha.

    Two layers: a wide soft one from the whole silhouette's width profile, squashed
    to ``height`` x the product's height, and a tight darker one from the bottom
    tenth (where the product meets the floor). ``blur`` is a fraction of ``side``.
    """
    opacity = shadow["opacity"]
    if opacity <= 0 or shadow["height"] <= 0:
        return
    y0, y1, x0, x1 = placed.box
    # the core only, and faint alpha ignored: a cut-out's haze casts no shadow
    a = np.clip((placed.alpha[y0:y1, x0:x1] - 0.25) * 2, 0, 1)
    h = a.shape[0]
    cx = placed.x + (x0 + x1) / 2
    sigma = shadow["blur"] * side
    u = (np.arange(a.shape[1], dtype=np.float32) + 0.5) / a.shape[1] * 2 - 1
    whole = a.max(axis=0) * np.clip(1 - u**2, 0, 1) ** 0.5  # rounded ends, like a real shadow
    foot = a[max(0, h - max(1, h // 10)) :].max(axis=0)
    band_h = max(2, round(h * shadow["height"]))
    layers = (
        (whole, placed.bottom, band_h, sigma, opacity * 0.6),
        (foot, placed.bottom - 1, max(2, band_h // 2), sigma / 2, opacity * 0.85),
    )
    for silhouette, centre, bh, sg, strength in layers:
        mask, x, y = _shadow_layer(silhouette, cx, centre, bh, sg)
        win = _window(canvas, x, y, *mask.shape)
        if win is None:
            continue
        dst, src = win
        canvas[dst] *= (1.0 - strength * np.clip(mask[src], 0, 1))[..., None]


def place_with_shadow(canvas: np.ndarray, placed: Placed, shadow: dict) -> None:
    """The product's contact shadow, then the product itself."""
    contact_shadow(canvas, placed, shadow, min(canvas.shape[:2]))
    composite(canvas, placed)

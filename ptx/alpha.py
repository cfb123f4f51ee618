"""Transparency through an edit: the alpha a photo had, given back to its output.

Models see a cut-out composited on white (ptx.io's decode); an output written to a format
that holds alpha (PNG, WebP, TIFF) gets the input's alpha back, and its colours are taken
off the white again (``uncomposite``), so a soft edge carries no white fringe when the
cut-out is laid on a dark page. JPEG and BMP outputs stay composited on white.
"""

from __future__ import annotations

import numpy as np

ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")  # Pillow formats ptx writes with an alpha channel
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def alpha_possible(img) -> bool:
    """Whether a Pillow image (header read, pixels not needed) may carry an alpha ptx reads."""
    if img.mode.startswith("I") or img.mode == "F":
        return False  # 16-bit and float modes carry no transparency ptx reads
    return img.mode in _ALPHA_MODES or "transparency" in img.info


def alpha_of(img) -> np.ndarray | None:
    """uint8 H x W alpha of a loaded Pillow image; None when it has none or is fully opaque."""
    if not alpha_possible(img):
        return None
    alpha = np.asarray((img if img.mode == "RGBA" else img.convert("RGBA")).getchannel("A"))
    return None if alpha.min(initial=255) == 255 else alpha


def uncomposite(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The foreground colours of ``rgb`` (a cut-out composited on white) under ``alpha``.

    c = a * f + (1 - a) * 255, solved for f where a > 0 (clipped to 0..255); pixels with
    a = 0 keep their value, which no viewer shows.
    """
    a = alpha.astype(np.float32)[..., None] / 255.0
    f = (rgb.astype(np.float32) - 255.0 * (1.0 - a)) / np.maximum(a, 1.0 / 255.0)
    out = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    return np.where(a > 0, out, rgb)


def rgba_image(rgb: np.ndarray, alpha: np.ndarray):
    """A Pillow RGBA image of ``rgb`` (composited on white) un-composited under ``alpha``."""
    from PIL import Image

    if alpha.shape != rgb.shape[:2]:
        raise ValueError(f"alpha {alpha.shape} does not match the image {rgb.shape[:2]}")
    return Image.fromarray(np.dstack([uncomposite(rgb, alpha), alpha]), "RGBA")

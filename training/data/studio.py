"""Studio staging for the synthetic catalogue: backgrounds and soft shadows (NumPy + Pillow).

Everything here is smooth, so it is computed at the output size (or a quarter of it and
upsampled), which keeps the per-image cost small next to the supersampled product.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

BACKGROUNDS = ("white", "grey-sweep", "gradient", "pastel")
BACKGROUND_WEIGHTS = (0.35, 0.25, 0.2, 0.2)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size x 3 float32 studio background in 0..255."""
    y = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, size, dtype=np.float32)[None, :]
    if kind == "white":
        return np.full((size, size, 3), 255.0, dtype=np.float32)
    if kind == "grey-sweep":
        # A paper sweep: darker wall at the top curving into a lighter floor at the horizon.
        wall, floor = rng.uniform(200, 222), rng.uniform(232, 246)
        horizon = rng.uniform(0.55, 0.72)
        t = _smoothstep((y - horizon + 0.25) / 0.45)
        lum = wall + (floor - wall) * t - 10.0 * x * x
        tint = np.array([1.0, 1.0, rng.uniform(1.0, 1.02)], dtype=np.float32)
        return np.clip(lum[..., None] * tint, 0, 255).astype(np.float32)
    if kind == "gradient":
        cy = rng.uniform(0.35, 0.55)
        r2 = x * x + ((y - cy) * 2.0) ** 2
        centre, edge = rng.uniform(243, 252), rng.uniform(196, 222)
        lum = edge + (centre - edge) * np.exp(-r2 / rng.uniform(0.6, 1.1))
        warm = rng.uniform(-0.03, 0.03)
        tint = np.array([1.0 + warm, 1.0, 1.0 - warm], dtype=np.float32)
        return np.clip(lum[..., None] * tint, 0, 255).astype(np.float32)
    if kind == "pastel":
        rgb = np.array(
            colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.12, 0.24), 1.0), dtype=np.float32
        ) * rng.uniform(236, 250)
        shade = 1.0 - 0.08 * y + 0.02 * (1.0 - x * x)
        return np.clip(shade[..., None] * rgb, 0, 255).astype(np.float32)
    raise ValueError(f"unknown background {kind!r}")


def _blur_small(img: Image.Image, radius: float, size: int) -> np.ndarray:
    """Gaussian-blur a quarter-size mask and bring it back to size x size as 0..1 float32."""
    big = img.filter(ImageFilter.GaussianBlur(radius)).resize((size, size), Image.BILINEAR)
    return np.asarray(big, dtype=np.float32) / 255.0


def shadow(alpha: np.ndarray, standing: bool, rng: np.random.Generator) -> np.ndarray:
    """Shadow strength (0..1, size x size) from the product's coverage.

    Standing products get a tight contact shadow at their base plus a faint cast
    shadow; flat-lay products get an offset drop shadow (light from the top left).
    """
    size = alpha.shape[0]
    q = max(size // 4, 4)
    small = Image.fromarray(np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)).resize(
        (q, q), Image.BOX
    )
    dx, dy = (0.025, 0.03) if not standing else (0.03, 0.0)
    off = Image.new("L", (q, q), 0)
    off.paste(small, (round(dx * q), round(dy * q)))
    strength = rng.uniform(0.22, 0.32) if not standing else rng.uniform(0.08, 0.14)
    out = strength * _blur_small(off, q * rng.uniform(0.02, 0.035), size)
    if standing:
        rows = np.nonzero(alpha.max(axis=1) > 0.5)[0]
        if len(rows):
            bottom = rows[-1]
            band = alpha[max(bottom - size // 20, 0) : bottom + 1]
            cols = np.nonzero(band.max(axis=0) > 0.5)[0]
            cx, half = (cols[0] + cols[-1]) / 2.0, (cols[-1] - cols[0]) / 2.0
            ell = Image.new("L", (q, q), 0)
            rx, ry = (half * 1.08 + 2) * q / size, max(0.018 * q, 1.0)
            cxq, byq = cx * q / size, bottom * q / size - 0.4 * ry
            ImageDraw.Draw(ell).ellipse((cxq - rx, byq - ry, cxq + rx, byq + ry), fill=255)
            contact = rng.uniform(0.45, 0.6) * _blur_small(ell, max(0.012 * q, 0.6), size)
            out = 1.0 - (1.0 - out) * (1.0 - contact)
    return out

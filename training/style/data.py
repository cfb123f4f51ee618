"""Training data for the style family: the style image and seeded batches of content crops.

The style image is a file, or ``ad``: a built-in, seeded, procedurally drawn
poster texture (bold colour bands and brush strokes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptx.errors import InputError
from ptx.image import fit
from ptx.io import read_image
from ptx.spec import ImageConvention
from ptx.training.data.files import load_images

BUILTIN_STYLES = ("ad",)
AD_PALETTE = (
    (236, 28, 120),  # magenta
    (255, 200, 0),  # yellow
    (0, 170, 220),  # cyan
    (250, 90, 20),  # orange
    (30, 40, 120),  # navy
    (250, 245, 235),  # off-white
)


def ad_style(size: int = 256, seed: int = 0) -> np.ndarray:
    """The built-in "ad" style: diagonal colour bands under bold brush strokes (uint8 RGB)."""
    from PIL import Image, ImageDraw, ImageFilter

    if size < 16:
        raise InputError(f"style image size must be at least 16 px, got {size}")
    rng = np.random.default_rng(seed)
    pal = np.array(AD_PALETTE, dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    band = ((xx + yy) / (size / 5.0) + rng.uniform(0, 6)).astype(np.int64) % len(pal)
    img = Image.fromarray(pal[band].astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(size * 0.35)):
        colour = tuple(int(v) for v in pal[rng.integers(len(pal))])
        x, y = rng.uniform(0, size, 2)
        angle = rng.uniform(0, np.pi)
        pts = []
        for _ in range(4):  # a bent stroke: a few segments with a drifting angle
            pts.append((float(x), float(y)))
            angle += rng.normal(0, 0.35)
            step = rng.uniform(0.04, 0.12) * size
            x, y = x + step * np.cos(angle), y + step * np.sin(angle)
        pts.append((float(x), float(y)))
        draw.line(pts, fill=colour, width=max(2, int(rng.uniform(0.015, 0.05) * size)))
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    grain = rng.normal(0, 6, (size, size, 1))  # paper grain: texture at the finest scale
    return np.clip(np.asarray(img, dtype=np.float32) + grain, 0, 255).astype(np.uint8)


def load_style(style: str | Path, side: int, seed: int = 0) -> np.ndarray:
    """The style image (a file, or a built-in name) scaled so its shorter side is ``side``."""
    from PIL import Image

    if str(style) in BUILTIN_STYLES:
        return ad_style(side, seed)
    path = Path(style)
    if not path.is_file():
        raise InputError(
            f"--style {style}: no such image file (give a picture, or a built-in: "
            f"{', '.join(BUILTIN_STYLES)})"
        )
    rgb = read_image(path)
    h, w = rgb.shape[:2]
    s = side / min(h, w)
    size = (max(side, round(w * s)), max(side, round(h * s)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def square_images(files: list[Path], size: int) -> list[np.ndarray]:
    """Readable images among ``files``, centre-cropped and resized to size x size.

    Held-out content is compared at one size, so it is cropped square (``ptx.image``'s
    "crop" rule); the model itself takes any size (its spec's fit is "pad").
    """
    return load_images(files, size, False, "val", fit=lambda rgb: fit(rgb, size, size, "crop"))


def make_batch(
    images: list[np.ndarray], batch: int, patch: int, seed: int, step: int, conv: ImageConvention
) -> np.ndarray:
    """The model batch (``conv``: the spec's) of random ``patch`` crops with flips for ``step``."""
    rng = np.random.default_rng([seed, step])
    crops = []
    for i in rng.integers(0, len(images), size=batch):
        img = images[i]
        h, w = img.shape[:2]
        y, x = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
        c = img[y : y + patch, x : x + patch]
        crops.append(c[:, ::-1] if rng.random() < 0.5 else c)
    return conv.to_model(crops)

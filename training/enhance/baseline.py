"""The classical baseline the enhancer has to beat: median filter, grey-world, autocontrast."""

from __future__ import annotations

import numpy as np

from ptx.errors import ImageError


def grey_world(rgb: np.ndarray) -> np.ndarray:
    """Scale each channel so the channel means are equal (grey-world white balance)."""
    x = rgb.astype(np.float32)
    means = x.reshape(-1, 3).mean(axis=0)
    gains = means.mean() / np.maximum(means, 1e-3)
    return np.clip(x * gains + 0.5, 0, 255).astype(np.uint8)


def classical_enhance(rgb: np.ndarray, cutoff: float = 0.5) -> np.ndarray:
    """Median 3x3 (denoise), grey-world white balance, then Pillow autocontrast."""
    from PIL import Image, ImageFilter, ImageOps

    if (
        not isinstance(rgb, np.ndarray)
        or rgb.dtype != np.uint8
        or rgb.ndim != 3
        or rgb.shape[2] != 3
    ):
        raise ImageError("classical_enhance expects a uint8 HxWx3 RGB array")
    img = Image.fromarray(rgb).filter(ImageFilter.MedianFilter(3))
    img = Image.fromarray(grey_world(np.asarray(img)))
    # preserve_tone stretches luminance only, so it does not undo the grey-world balance
    img = ImageOps.autocontrast(img, cutoff=cutoff, preserve_tone=True)
    return np.asarray(img)

"""Training data for the VAE: square images fitted by the encoder spec's rule, seeded batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptx.spec import ImageConvention
from ptx.training.data.files import load_images


def spread(files: list[Path], n: int) -> list[Path]:
    """At most ``n`` files evenly spaced over the (sorted) list: every category, not the first."""
    if len(files) <= n:
        return list(files)
    return [files[i * len(files) // n] for i in range(n)]


def load_square(
    files: list[Path], size: int, progress: bool, what: str, conv: ImageConvention
) -> np.ndarray:
    """(N, size, size, 3) uint8: each readable file fitted by ``conv.fit_image`` (the spec's)."""
    imgs = load_images(files, size, progress, what, fit=lambda rgb: conv.fit_image(rgb, size, size))
    if not imgs:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return np.stack(imgs)


def make_batch(
    images: np.ndarray, batch: int, seed: int, step: int, conv: ImageConvention
) -> np.ndarray:
    """The model batch (``conv``: the encoder spec's) for ``step``: random images and flips."""
    rng = np.random.default_rng([seed, step])
    x = images[rng.integers(0, len(images), size=batch)]
    flip = rng.random(batch) < 0.5
    x[flip] = x[flip, :, ::-1]
    return conv.to_model(x)

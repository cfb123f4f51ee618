"""Training data for the enhance family: seeded (degraded, clean) batches, prefetched.

Batches are a pure function of (seed, step), so a resumed run draws exactly the
batches the uninterrupted run would have, and a background thread can prepare
them ahead of the training step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ptx.spec import ImageConvention
from ptx.training.data.degrade import DegradeConfig, degrade

VAL_SEED = 1_000_003  # held-out degradations are fixed across runs and resumes
CLEAN_FRACTION = 0.25  # share of clean -> clean pairs: "leave a good photo alone" is learned too
LOOK_KEEP = 0.3  # share of clean crops kept as rendered (see vary_look)
LOOK_GAIN = (0.55, 1.0)
LOOK_GAMMA = (0.8, 1.6)
LOOK_TINT = (0.88, 1.12)


def _crop(rgb: np.ndarray, patch: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (half the time of up to 2x the patch, downscaled) with flips."""
    from PIL import Image

    h, w = rgb.shape[:2]
    side = patch
    if rng.random() < 0.5:  # zoomed-out crops show the global statistics of a whole product shot
        side = int(rng.integers(patch, min(h, w, 2 * patch) + 1))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    c = rgb[y : y + side, x : x + side]
    if side != patch:
        c = np.asarray(Image.fromarray(c).resize((patch, patch), Image.Resampling.BILINEAR))
    if rng.random() < 0.5:
        c = c[:, ::-1]
    if rng.random() < 0.5:
        c = c[::-1]
    return np.ascontiguousarray(c)


def vary_look(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give a clean training image another plausible exposure, tone and tint.

    Studio shots are bright and neutral; without this the model learns "make it
    bright and neutral", which ruins darker or warmer real photos. The target is
    still degradation-free, so the model learns to undo the degradation, not a look.
    """
    if rng.random() < LOOK_KEEP:
        return rgb
    tint = rng.uniform(*LOOK_TINT, size=3)
    gain = rng.uniform(*LOOK_GAIN) * tint / tint.mean()
    gamma = float(np.exp(rng.uniform(*np.log(LOOK_GAMMA))))
    x = (rgb.astype(np.float32) / 255.0) ** np.float32(gamma) * gain.astype(np.float32)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def make_batch(
    images: list[np.ndarray],
    batch: int,
    patch: int,
    seed: int,
    step: int,
    cfg: DegradeConfig,
    conv: ImageConvention,
) -> tuple[np.ndarray, np.ndarray]:
    """(degraded, clean) model batches (``conv``: the spec's) for ``step``: a pure function.

    About CLEAN_FRACTION of the pairs are clean -> clean, so the model learns to leave
    a photo that needs nothing alone.

    Seeding per step makes a resumed run draw exactly the batches the uninterrupted
    run would have, and lets a background thread prepare batches ahead.
    """
    rng = np.random.default_rng([seed, step])
    idx = rng.integers(0, len(images), size=batch)
    clean = [vary_look(_crop(images[i], patch, rng), rng) for i in idx]
    keep = rng.random(batch) < CLEAN_FRACTION
    # Degrade every crop even when it is kept, so the fraction does not reshuffle the draws.
    degraded = [degrade(c, rng, cfg) for c in clean]
    noisy = [c if k else d for c, k, d in zip(clean, keep, degraded, strict=True)]
    return conv.to_model(noisy), conv.to_model(clean)


class Prefetcher:
    """Prepares the next batches on one background thread (Pillow and NumPy release the GIL)."""

    def __init__(self, fn: Callable[[int], Any], start: int, ahead: int = 2) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.fn = fn
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptx-batches")
        self.pending = {k: self.pool.submit(fn, k) for k in range(start, start + ahead)}
        self.ahead = ahead

    def get(self, step: int) -> Any:
        """The batch for ``step`` (and queue the one ``ahead`` steps later)."""
        fut = self.pending.pop(step, None) or self.pool.submit(self.fn, step)
        self.pending[step + self.ahead] = self.pool.submit(self.fn, step + self.ahead)
        return fut.result()

    def close(self) -> None:
        """Drop queued work and stop the thread."""
        for fut in self.pending.values():
            fut.cancel()
        self.pool.shutdown(wait=True)


def held_out_pairs(
    images: list[np.ndarray], cfg: DegradeConfig
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed-seed (degraded, clean) pairs of the held-out images."""
    return [(degrade(c, np.random.default_rng(VAL_SEED + i), cfg), c) for i, c in enumerate(images)]

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
CLEAN_FRACTION = 0.3  # share of clean -> clean pairs: "leave a good photo alone" is learned too
TEXTURE_FRACTION = 0.2  # share of crops taken from a real texture (when textures are given)
TEXTURES = ("brick", "grass", "gravel")  # scikit-image's grey textures: not its colour photos
LOOK_KEEP = 0.3  # share of clean crops kept as rendered (see vary_look)
# Natural variation only: exposure and tint stay clear of DegradeConfig's gaps even when a
# degradation is composed on top (0.82 * 1.3 > 1.0, 1.0 * 0.75 < 0.82), so no clean look is
# ever also a degraded input with another target. Mid-tones (gamma) vary widely: dark and
# light scenes are natural, and the degradations leave gamma alone.
LOOK_GAIN = (0.82, 1.0)
LOOK_GAMMA = (0.7, 1.5)
LOOK_TINT = (0.96, 1.04)
# Saturation, log-uniform, for half the varied looks: vivid products that clip a channel
# (a blue box on white) are good photos too; without them the classifier read one as a cast.
LOOK_SATURATION = (0.8, 1.8)
# Share of the varied looks (enhance training) that keep white at white: gain 1, no tint, so
# a pure-white backdrop stays 255. Without it nearly every clean look had its white point
# moved below 255, a clipped white backdrop read as "brightened", and the enhancer shipped
# before keep_white greyed the backdrop of 31 % of fresh catalogue renders (255 -> ~230).
LOOK_WHITE = 0.5
WHOLE_FRACTION = 0.25  # crops that are the whole image, scaled: the statistics a photo has


def _crop(rgb: np.ndarray, patch: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (half the time of up to 2x the patch, downscaled) with flips.

    WHOLE_FRACTION of the time it is the whole image scaled to the patch instead.
    """
    from PIL import Image

    h, w = rgb.shape[:2]
    side = patch
    if rng.random() < 0.5:  # zoomed-out crops show the global statistics of a whole product shot
        side = int(rng.integers(patch, min(h, w, 2 * patch) + 1))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    c = rgb[y : y + side, x : x + side]
    if rng.random() < WHOLE_FRACTION:  # the tone gate sees whole photos at run time
        c, side = rgb, -1
    if side != patch:
        c = np.asarray(Image.fromarray(c).resize((patch, patch), Image.Resampling.BILINEAR))
    if rng.random() < 0.5:
        c = c[:, ::-1]
    if rng.random() < 0.5:
        c = c[::-1]
    return np.ascontiguousarray(c)


def package_textures() -> list[np.ndarray]:
    """scikit-image's bundled grey textures, or [] without scikit-image.

    Catalogue renders are smooth; real fabric, fur and gravel are not. Without real
    texture the model takes detail for noise and smooths good photos. These are
    textures only: the colour photos scikit-image ships are evaluation data.
    """
    try:
        import skimage.data
    except ImportError:
        return []
    return [np.ascontiguousarray(getattr(skimage.data, name)()) for name in TEXTURES]


def texture_crop(grey: np.ndarray, patch: int, rng: np.random.Generator) -> np.ndarray:
    """A crop of a grey texture (at a random zoom) mapped between two random colours."""
    from PIL import Image

    side = int(rng.integers(patch, min(*grey.shape[:2], 3 * patch) + 1))
    y = int(rng.integers(0, grey.shape[0] - side + 1))
    x = int(rng.integers(0, grey.shape[1] - side + 1))
    c = grey[y : y + side, x : x + side]
    if side != patch:
        c = np.asarray(Image.fromarray(c).resize((patch, patch), Image.Resampling.LANCZOS))
    t = c.astype(np.float32)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)  # full 0..1: the detail stays visible
    dark = rng.uniform(0, 150, size=3).astype(np.float32)
    light = np.minimum(dark + rng.uniform(60, 150, size=3), 255).astype(np.float32)
    rgb = dark + (light - dark) * t[..., None]
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def vary_look(rgb: np.ndarray, rng: np.random.Generator, keep_white: float = 0.0) -> np.ndarray:
    """Give a clean training image another plausible exposure, tone and tint.

    Studio shots are bright and neutral; without this the model learns "make it
    bright and neutral", which ruins darker or warmer real photos. The target is
    still degradation-free, so the model learns to undo the degradation, not a look.
    The ranges are narrow on purpose: a wide look (the first version went down to
    gain 0.55 and gamma 1.6) overlaps what the degradations produce, the model cannot
    tell a dark clean photo from a darkened one and half-corrects every photo.
    With probability ``keep_white`` a varied look keeps white at white (gain 1, no tint:
    mid-tones and saturation only), as a product on a pure-white backdrop is shot.
    """
    if rng.random() < LOOK_KEEP:
        return rgb
    tint = rng.uniform(*LOOK_TINT, size=3)
    gain = rng.uniform(*LOOK_GAIN) * tint / tint.mean()
    if keep_white and rng.random() < keep_white:  # no draw at 0: other callers' streams hold
        gain = np.ones(3)
    gamma = float(np.exp(rng.uniform(*np.log(LOOK_GAMMA))))
    sat = float(np.exp(rng.uniform(*np.log(LOOK_SATURATION))))
    x = (rgb.astype(np.float32) / 255.0) ** np.float32(gamma) * gain.astype(np.float32)
    if rng.random() < 0.5:
        lum = x.mean(axis=2, keepdims=True)
        x = lum + np.float32(sat) * (x - lum)
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def make_batch(
    images: list[np.ndarray],
    batch: int,
    patch: int,
    seed: int,
    step: int,
    cfg: DegradeConfig,
    conv: ImageConvention,
    textures: list[np.ndarray] | None = None,
    stream: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(degraded, clean) model batches (``conv``: the spec's) for ``step``: a pure function.

    About CLEAN_FRACTION of the pairs are clean -> clean, so the model learns to leave
    a photo that needs nothing alone.

    Seeding per step makes a resumed run draw exactly the batches the uninterrupted
    run would have, and lets a background thread prepare batches ahead. With
    ``textures``, about TEXTURE_FRACTION of the crops come from them instead.
    ``stream`` > 0 draws another, independent batch for the same step.
    """
    rng = np.random.default_rng([seed, step, stream] if stream else [seed, step])
    idx = rng.integers(0, len(images), size=batch)
    crops = [_crop(images[i], patch, rng) for i in idx]
    if textures:
        tex = rng.integers(0, len(textures), size=batch)
        use = rng.random(batch) < TEXTURE_FRACTION
        crops = [
            texture_crop(textures[t], patch, rng) if u else c
            for c, t, u in zip(crops, tex, use, strict=True)
        ]
    clean = [vary_look(c, rng, LOOK_WHITE) for c in crops]
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

"""Training data for the enhance family: folder split, in-memory images, seeded batches.

Batches are a pure function of (seed, step), so a resumed run draws exactly the
batches the uninterrupted run would have, and a background thread can prepare
them ahead of the training step.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.io import SkipLog, list_images, read_image
from ptx.training.data.degrade import DegradeConfig, degrade

HELD_OUT_SPLITS = ("val", "valid", "validation", "test")
MAX_SIDE = 512  # larger photos are downscaled on load: crops see more content, memory stays small
VAL_SEED = 1_000_003  # held-out degradations are fixed across runs and resumes
LOOK_KEEP = 0.3  # share of clean crops kept as rendered (see vary_look)
LOOK_GAIN = (0.55, 1.0)
LOOK_GAMMA = (0.8, 1.6)
LOOK_TINT = (0.88, 1.12)


def split_files(data: Path, val_fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """(train, held-out) files: labels.csv's split column if present, else a seeded split."""
    files = list_images(data)
    if not files:
        raise InputError(f"{data}: no images found (jpg/png/webp); point --data at an image folder")
    labels = data / "labels.csv"
    if labels.is_file():
        with open(labels, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and "split" in rows[0] and "path" in rows[0]:
            held = {(data / r["path"]).resolve() for r in rows if r["split"] in HELD_OUT_SPLITS}
            train = [p for p in files if p.resolve() not in held]
            val = [p for p in files if p.resolve() in held]
            if train and val:
                return train, val
    order = np.random.default_rng(seed).permutation(len(files))
    n_val = min(len(files) - 1, max(1, round(len(files) * val_fraction))) if len(files) > 1 else 0
    val = sorted(files[i] for i in order[:n_val])
    train = sorted(files[i] for i in order[n_val:])
    return train, val


def _fit(rgb: np.ndarray, min_side: int) -> np.ndarray:
    """Downscale to MAX_SIDE, and upscale so the shorter side is at least ``min_side``."""
    from PIL import Image

    h, w = rgb.shape[:2]
    scale = min(1.0, MAX_SIDE / max(h, w))
    scale = max(scale, min_side / min(h, w))
    if scale == 1.0:
        return rgb
    size = (max(min_side, round(w * scale)), max(min_side, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def load_images(files: list[Path], min_side: int, progress: bool, what: str) -> list[np.ndarray]:
    """Decode every file (bad ones skipped and counted) into memory."""
    from tqdm import tqdm

    skips = SkipLog()
    out = []
    for p in tqdm(files, desc=f"load {what}", disable=not progress, leave=False):
        try:
            out.append(_fit(read_image(p), min_side))
        except Exception as exc:  # one bad file must not stop a training run
            skips.add(p, str(exc))
    if len(skips):
        tqdm.write(
            f"skipped {len(skips)} unreadable {what} image(s), e.g. {skips.skipped[0][1]}",
            file=sys.stderr,
        )
    return out


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
    images: list[np.ndarray], batch: int, patch: int, seed: int, step: int, cfg: DegradeConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(degraded, clean) float32 NCHW batch in [0, 1] for ``step``: a pure function of its args.

    Seeding per step makes a resumed run draw exactly the batches the uninterrupted
    run would have, and lets a background thread prepare batches ahead.
    """
    rng = np.random.default_rng([seed, step])
    idx = rng.integers(0, len(images), size=batch)
    clean = np.stack([vary_look(_crop(images[i], patch, rng), rng) for i in idx])
    noisy = np.stack([degrade(c, rng, cfg) for c in clean])
    return to_nchw(noisy), to_nchw(clean)


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


def to_nchw(u8: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> float32 NCHW in [0, 1]."""
    return np.ascontiguousarray(u8.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)


def to_hwc_u8(x: Any) -> np.ndarray:
    """One float CHW torch tensor in [0, 1] -> uint8 HWC NumPy image (rounded)."""
    import torch

    a = x.detach().clamp(0, 1).mul(255).add(0.5).to(dtype=torch.uint8)
    return a.permute(1, 2, 0).cpu().numpy()


def held_out_pairs(
    images: list[np.ndarray], cfg: DegradeConfig
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed-seed (degraded, clean) pairs of the held-out images."""
    return [(degrade(c, np.random.default_rng(VAL_SEED + i), cfg), c) for i, c in enumerate(images)]

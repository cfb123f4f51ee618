"""A folder's image files for training: the held-out split, and decoding them into memory.

The split follows ``labels.csv``'s ``split`` column when it has one (the
catalogue's layout), else a seeded share of the files, so a resumed run and
``ptx eval`` see the same held-out images as the run that trained.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ptx.errors import InputError
from ptx.io import SkipLog, list_images, read_image

HELD_OUT_SPLITS = ("val", "valid", "validation", "test")
MAX_SIDE = 512  # larger photos are downscaled on load: crops see more content, memory stays small


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


def load_images(
    files: list[Path],
    min_side: int,
    progress: bool,
    what: str,
    fit: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Decode every file (bad ones skipped and counted) into memory.

    Each image is sized by ``fit`` when given (a fixed-size model's rule), else
    scaled to at most MAX_SIDE with the shorter side at least ``min_side``.
    """
    skips = SkipLog()
    out = []
    for p in tqdm(files, desc=f"load {what}", disable=not progress, leave=False):
        try:
            rgb = read_image(p)
            out.append(fit(rgb) if fit is not None else _fit(rgb, min_side))
        except Exception as exc:  # one bad file must not stop a training run
            skips.add(p, str(exc))
    if len(skips):
        tqdm.write(
            f"skipped {len(skips)} unreadable {what} image(s), e.g. {skips.skipped[0][1]}",
            file=sys.stderr,
        )
    return out

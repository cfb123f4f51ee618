"""Training data for the cutout family: matte renders -> seeded (degraded input, alpha) batches.

The renders (``ptx.training.data.matte``) are made once at the start of a run;
each batch is a pure function of (seed, step): random crops (half of them of a
larger region scaled down, so whole products are seen at several scales), flips,
a random exposure/tint (``vary_look``) and the camera degradations
(``degrade``) on the input only. The alpha target is cropped and flipped with it
and never degraded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ptx.errors import InputError
from ptx.io import atomic_write_bytes
from ptx.training.data.degrade import DegradeConfig, degrade
from ptx.training.data.matte import render_matte, render_set
from ptx.training.enhance.data import package_textures, vary_look

VAL_SEED_OFFSET = 1_000_003  # held-out renders come from another seed: never a training image
P_DEGRADE = 0.6  # share of inputs that get the camera degradations
HELD_OUT_DEGRADE_SEED = 4_242


def _crop_pair(
    rgb: np.ndarray, alpha: np.ndarray, patch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random crop of (rgb, alpha), half the time of a larger side scaled down, plus flips."""
    n = rgb.shape[0]
    side = patch
    if rng.random() < 0.5 and n > patch:
        side = int(rng.integers(patch, n + 1))
    side = min(side, n)
    y = int(rng.integers(0, n - side + 1))
    x = int(rng.integers(0, n - side + 1))
    c, a = rgb[y : y + side, x : x + side], alpha[y : y + side, x : x + side]
    if side != patch:
        c = np.asarray(Image.fromarray(c).resize((patch, patch), Image.Resampling.BILINEAR))
        a = np.asarray(Image.fromarray(a).resize((patch, patch), Image.Resampling.BILINEAR))
    if rng.random() < 0.5:
        c, a = c[:, ::-1], a[:, ::-1]
    return np.ascontiguousarray(c), np.ascontiguousarray(a)


def make_batch(
    rgbs: np.ndarray,
    alphas: np.ndarray,
    batch: int,
    patch: int,
    seed: int,
    step: int,
    cfg: DegradeConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """(input NCHW float32, alpha N1HW float32), both in [0, 1], for ``step``: a pure function."""
    rng = np.random.default_rng([seed, step])
    idx = rng.integers(0, len(rgbs), size=batch)
    xs, ys = [], []
    for i in idx:
        c, a = _crop_pair(rgbs[i], alphas[i], patch, rng)
        c = vary_look(c, rng)
        d = degrade(c, rng, cfg)  # drawn every time, so P_DEGRADE does not reshuffle the draws
        xs.append(d if rng.random() < P_DEGRADE else c)
        ys.append(a)
    x = np.stack(xs).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    y = np.stack(ys).astype(np.float32)[:, None] / 255.0
    return np.ascontiguousarray(x), y


def training_set(
    seed: int, n: int, size: int, textures: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """n training renders of ``seed``: (N, S, S, 3) uint8 RGB and (N, S, S) uint8 alpha."""
    if n < 1:
        raise InputError(f"--images must be at least 1, got {n}")
    return render_set(seed, 0, n, size, package_textures() if textures else [])


def held_out(seed: int, n: int, size: int, cfg: DegradeConfig | None = None) -> list[tuple]:
    """n held-out (input uint8 RGB, alpha float32) pairs; every other input is degraded.

    The renders use ``seed + VAL_SEED_OFFSET`` and the degradations a fixed seed, so the
    set is the same across runs, resumes and the evaluation study.
    """
    tex = package_textures()
    cfg = cfg or DegradeConfig()
    pairs = []
    for i in range(n):
        rgb, alpha = render_matte(seed + VAL_SEED_OFFSET, i, size, tex)
        if i % 2:
            rgb = degrade(rgb, np.random.default_rng([HELD_OUT_DEGRADE_SEED, i]), cfg)
        pairs.append((rgb, alpha))
    return pairs


def write_matte_set(out: Path, n: int, size: int, seed: int = 0) -> int:
    """Write n renders as out/<i>.png (the input) and out/<i>_cutout.png (RGBA ground truth)."""
    import io

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; pick another --out")
    out.mkdir(parents=True, exist_ok=True)
    tex = package_textures()
    for i in range(n):
        rgb, alpha = render_matte(seed, i, size, tex)
        a = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
        for name, img in ((f"{i:05d}.png", rgb), (f"{i:05d}_cutout.png", np.dstack([rgb, a]))):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            atomic_write_bytes(out / name, buf.getvalue())
    return n

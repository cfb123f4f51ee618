"""Garment fabrics: a pattern evaluated at garment coordinates (u, v), so it follows the garment.

``u`` runs across the garment in units of the wearer's width and ``v`` down from the
shoulders, so the same garment shows the same stripes, checks or dots on a flat-lay
and on a body (stretched with the body's width). The "texture" fabric samples one of
scikit-image's grey textures (brick, grass, gravel) mapped between the garment's two
colours, as the enhancer's data does; its colour photos stay evaluation-only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ptx.training.enhance.data import package_textures

PATTERNS = ("solid", "stripes", "checks", "dots", "texture")


@dataclass(frozen=True)
class Fabric:
    """One garment's look: pattern, two colours (RGB 0..1), scale and orientation."""

    pattern: str
    c1: tuple[float, float, float]
    c2: tuple[float, float, float]
    period: float = 0.06  # garment units per repeat
    angle: float = 0.0  # degrees (stripes)
    texture: int = 0  # index into the texture list
    zoom: float = 400.0  # texture pixels per garment unit
    offset: tuple[float, float] = (0.0, 0.0)  # texture pixels


def random_fabric(rng: np.random.Generator, n_textures: int) -> Fabric:
    """A random fabric: any pattern (texture only when textures exist), contrasting colours."""
    kinds = PATTERNS if n_textures else PATTERNS[:-1]
    pattern = str(kinds[int(rng.integers(0, len(kinds)))])
    c1 = rng.uniform(0.04, 0.96, size=3)
    if rng.random() < 0.3:  # white or near-black second colour, as many prints are
        c2 = np.full(3, 0.95 if c1.mean() < 0.5 else 0.08) + rng.uniform(-0.03, 0.03, 3)
    else:
        c2 = rng.uniform(0.04, 0.96, size=3)
        if np.abs(c2 - c1).sum() < 0.6:  # keep the pattern visible
            c2 = np.clip(1.0 - c1 + rng.uniform(-0.1, 0.1, 3), 0.02, 0.98)
    return Fabric(
        pattern=pattern,
        c1=tuple(float(v) for v in c1),
        c2=tuple(float(v) for v in np.clip(c2, 0.0, 1.0)),
        period=float(rng.uniform(0.06, 0.12)),
        angle=float(rng.choice([0.0, 90.0, 45.0, -45.0])),
        texture=int(rng.integers(0, max(1, n_textures))),
        zoom=float(rng.uniform(120.0, 300.0)),
        offset=(float(rng.uniform(0, 512)), float(rng.uniform(0, 512))),
    )


def _stripes(f: Fabric, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    a = math.radians(f.angle)
    t = (u * math.cos(a) + v * math.sin(a)) / f.period
    return (np.mod(t, 1.0) < 0.5).astype(np.float32)


def _checks(f: Fabric, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Gingham: the overlap of two stripe sets is the full second colour, one set half.
    a = (np.mod(u / f.period, 1.0) < 0.5).astype(np.float32)
    b = (np.mod(v / f.period, 1.0) < 0.5).astype(np.float32)
    return 0.5 * (a + b)


def _dots(f: Fabric, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Staggered rows: every other row shifted by half a period.
    row = np.floor(v / f.period)
    du = np.mod(u / f.period + 0.5 * np.mod(row, 2.0), 1.0) - 0.5
    dv = np.mod(v / f.period, 1.0) - 0.5
    return (du * du + dv * dv < 0.28**2).astype(np.float32)


def _texture(f: Fabric, u: np.ndarray, v: np.ndarray, textures: list[np.ndarray]) -> np.ndarray:
    grey = textures[f.texture % len(textures)]
    h, w = grey.shape[:2]
    ys = np.mod(np.floor(v * f.zoom + f.offset[1]), h).astype(np.int64)
    xs = np.mod(np.floor(u * f.zoom + f.offset[0]), w).astype(np.int64)
    t = grey[ys, xs].astype(np.float32)
    lo, hi = float(grey.min()), float(grey.max())
    return (t - lo) / max(hi - lo, 1.0)


def fabric_rgb(
    f: Fabric, u: np.ndarray, v: np.ndarray, textures: list[np.ndarray] | None = None
) -> np.ndarray:
    """The fabric's RGB (float32 0..1, shape u.shape + (3,)) at garment coordinates (u, v)."""
    if f.pattern == "solid":
        t = np.zeros(u.shape, np.float32)
    elif f.pattern == "stripes":
        t = _stripes(f, u, v)
    elif f.pattern == "checks":
        t = _checks(f, u, v)
    elif f.pattern == "dots":
        t = _dots(f, u, v)
    elif f.pattern == "texture":
        textures = textures if textures is not None else load_textures()
        if not textures:
            raise ValueError("the texture fabric needs scikit-image's textures")
        t = _texture(f, u, v, textures)
    else:
        raise ValueError(f"unknown pattern '{f.pattern}' (known: {', '.join(PATTERNS)})")
    c1 = np.asarray(f.c1, np.float32)
    c2 = np.asarray(f.c2, np.float32)
    return c1 + (c2 - c1) * t[..., None]


_TEXTURES: list[np.ndarray] | None = None


def load_textures() -> list[np.ndarray]:
    """scikit-image's grey textures (cached), or [] without scikit-image."""
    global _TEXTURES
    if _TEXTURES is None:
        _TEXTURES = package_textures()
    return _TEXTURES

"""Large photos through an enhancer in tiles: bounded memory, no seams, one global tone.

An enhancer's global branch sees statistics of its whole input, so a tile run on its
own gets a tone correction of its own: neighbouring tiles would differ in colour.
The exported ONNX cannot be split into its branches (and a foreign model has none to
split), so the correction is taken apart by measurement instead:

1. Reference: the whole photo, subsampled to the pixel budget, runs once; a
   smooth per-channel tone curve ``G`` (input level -> output level, least squares) is
   fitted to its input/output pairs.
2. Tiles: each tile (at most the budget, starting on an 8-pixel grid, ``overlap`` wide
   margins) runs at full resolution; its own curve ``T`` is fitted the same way and
   swapped for the reference: ``tile_out + G(tile_in) - T(tile_in)``. Local work
   (denoising, deblocking) stays the tile's own; the tone is the whole photo's.
3. Overlaps are blended with linear ramps (feathering), so tiles fade into each other.

A model whose effect is purely local gets ``G ~= T`` (the correction vanishes); the
tone-curve swap is measured against the untiled output by
``python -m ptx.benchmarks.studies.enhance_cost --only seams`` (the shipped enhancer,
1600x1200 in 2x3 tiles: mean difference 1.7 levels, no more in the seam bands than
elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ptx.errors import InputError

DEFAULT_MAX_PIXELS = 1024 * 1024  # a model without a declared max size: tiles past 1 MP
DEFAULT_OVERLAP = 64  # pixels each side of a seam blended; wider than the model's reach
KNOTS = 16  # segments of the fitted per-channel tone curves
SMOOTH = 1e-4  # curvature penalty, relative to the pixel count (keeps empty ranges smooth)
ALIGN = 8  # tile origins on this grid: stride-2 convs then sample the same pixels

# rgb uint8 HxWx3 -> enhanced uint8 HxWx3 of the same size (one model call)
Enhance = Callable[[np.ndarray], np.ndarray]


def tile_spans(n: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, stop) of tiles covering 0..n: ``tile`` long, starts on the ALIGN grid, evenly spread.

    The last tile runs to ``n`` (up to ALIGN - 1 longer); neighbours share >= ``overlap``.
    """
    if tile >= n:
        return [(0, n)]
    count = math.ceil((n - overlap) / (tile - overlap))
    last = (n - tile) // ALIGN * ALIGN
    while True:
        starts = [round(i * last / (count - 1)) // ALIGN * ALIGN for i in range(count)]
        stops = [s + tile for s in starts[:-1]] + [n]
        if all(stops[i] - starts[i + 1] >= overlap for i in range(count - 1)):
            return list(zip(starts, stops, strict=True))
        count += 1


def fits(h: int, w: int, max_pixels: int, max_hw: tuple[int, int] | None = None) -> bool:
    """Whether an h x w photo runs whole: within the pixel budget and the profile's sides."""
    return h * w <= max_pixels and (max_hw is None or (h <= max_hw[0] and w <= max_hw[1]))


def tile_grid(
    h: int, w: int, max_pixels: int, overlap: int, max_hw: tuple[int, int] | None = None
) -> tuple[list, list]:
    """Row and column spans of overlapping tiles of at most ``max_pixels`` each.

    With ``max_hw`` no tile is taller or wider than the model's profile allows (a
    TensorRT plan refuses a larger input, whatever its pixel count). Of the grids that
    fit, the one running the fewest pixels in all (overlaps are run twice), then the
    fewest tiles.
    """
    side = 2 * overlap + 2 * ALIGN  # the smallest tile worth running
    if max_pixels < side * side or (max_hw is not None and min(max_hw) < side + ALIGN):
        raise InputError(
            f"tile budget {max_pixels} pixels (sides {max_hw}) is too small for a "
            f"{overlap}-pixel overlap (need at least {side}x{side})"
        )
    # A tiled axis's last tile may run ALIGN - 1 past the tile length (tile_spans).
    big = h + w + max_pixels
    max_h, max_w = max_hw if max_hw is not None else (big, big)
    cap_h, cap_w = max_h - ALIGN + 1, max_w - ALIGN + 1
    best = None
    for ny in range(1, max(1, h // (side - overlap)) + 2):
        if ny == 1:
            if h > max_h:
                continue
            th = h
        else:
            th = _round_up(math.ceil((h + (ny - 1) * overlap) / ny), ALIGN)
            if th > cap_h:
                continue
        room = max_pixels // (th + ALIGN)  # the last tile may be ALIGN - 1 longer
        tw = w if room >= w + ALIGN and w <= max_w else min(room, cap_w) // ALIGN * ALIGN - ALIGN
        if tw < side:
            continue
        nx = 1 if tw >= w else math.ceil((w - overlap) / (tw - overlap))
        if nx > 1:  # even columns, not one thin last tile
            tw = _round_up(math.ceil((w + (nx - 1) * overlap) / nx), ALIGN)
            while tw > cap_w:
                nx += 1
                tw = _round_up(math.ceil((w + (nx - 1) * overlap) / nx), ALIGN)
        th, tw = min(th, h), min(tw, w)
        work = (ny * nx * th * tw, ny * nx)  # pixels run (overlaps count twice), then tiles
        if best is None or work < best[0]:
            best = (work, th, tw)
    if best is None:
        raise InputError(f"cannot tile {w}x{h} into tiles of at most {max_pixels} pixels")
    _, th, tw = best
    return tile_spans(h, th, overlap), tile_spans(w, tw, overlap)


def _round_up(n: int, k: int) -> int:
    return -(-n // k) * k


def _basis() -> np.ndarray:
    """(256, KNOTS+1) hat functions: a piecewise-linear curve over the 8-bit levels."""
    t = np.arange(256, dtype=np.float64) / 255.0 * KNOTS
    k = np.minimum(np.floor(t).astype(np.int64), KNOTS - 1)
    frac = t - k
    b = np.zeros((256, KNOTS + 1))
    b[np.arange(256), k] = 1.0 - frac
    b[np.arange(256), k + 1] = frac
    return b


_BASIS = _basis()
_CURVATURE = np.diff(np.eye(KNOTS + 1), n=2, axis=0)


def tone_curves(src: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(3, 256) float: per channel, the smooth curve best mapping ``src`` levels to ``out``."""
    curves = np.empty((3, 256))
    for c in range(3):
        levels = src[..., c].ravel()
        count = np.bincount(levels, minlength=256).astype(np.float64)
        total = np.bincount(levels, weights=out[..., c].ravel(), minlength=256)
        a = _BASIS.T @ (count[:, None] * _BASIS)
        a += SMOOTH * count.sum() * (_CURVATURE.T @ _CURVATURE)
        coef = np.linalg.solve(a, _BASIS.T @ total)
        curves[c] = _BASIS @ coef
    return curves


def _apply(curves: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    return np.stack([curves[c][rgb[..., c]] for c in range(3)], axis=-1).astype(np.float32)


def _ramp(start: int, stop: int, size: int, overlap: int) -> np.ndarray:
    """1-D blend weight of a tile: 0 over its outer quarter-overlap (the model's border
    effects: zero padding), then rising linearly to 1, at inner edges only."""
    w = np.ones(stop - start, dtype=np.float32)
    margin = overlap // 4
    ramp = np.clip((np.arange(overlap, dtype=np.float32) + 0.5 - margin) / (overlap - margin), 0, 1)
    if start > 0:
        w[:overlap] = np.minimum(w[:overlap], ramp)
    if stop < size:
        w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
    return w


def reference_curves(
    rgb: np.ndarray, enhance: Enhance, max_pixels: int, max_hw: tuple[int, int] | None = None
) -> np.ndarray:
    """The whole photo's tone curves, from one run on every s-th pixel (within the budget).

    Plain subsampling, not an area resize: averaging would smooth noise and texture
    away, and a global branch that measures them would see a cleaner photo than it is.
    """
    h, w = rgb.shape[:2]
    s = math.ceil(math.sqrt(h * w / max_pixels))
    while not fits(math.ceil(h / s), math.ceil(w / s), max_pixels, max_hw):
        s += 1
    small = np.ascontiguousarray(rgb[s // 2 :: s, s // 2 :: s])
    return tone_curves(small, enhance(small).astype(np.float32))


def enhance_tiled(
    rgb: np.ndarray,
    enhance: Enhance,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    overlap: int = DEFAULT_OVERLAP,
    max_hw: tuple[int, int] | None = None,
) -> np.ndarray:
    """``enhance`` over a photo of any size: at most ``max_pixels`` and ``max_hw`` per call."""
    h, w = rgb.shape[:2]
    if fits(h, w, max_pixels, max_hw):
        return enhance(rgb)
    rows, cols = tile_grid(h, w, max_pixels, overlap, max_hw)
    ref = reference_curves(rgb, enhance, max_pixels, max_hw)
    acc = np.zeros((h, w, 3), dtype=np.float32)
    weight = np.zeros((h, w, 1), dtype=np.float32)
    for y0, y1 in rows:
        wy = _ramp(y0, y1, h, overlap)
        for x0, x1 in cols:
            tile = np.ascontiguousarray(rgb[y0:y1, x0:x1])
            out = enhance(tile).astype(np.float32)
            out += _apply(ref, tile) - _apply(tone_curves(tile, out), tile)
            wt = (wy[:, None] * _ramp(x0, x1, w, overlap)[None, :])[..., None]
            acc[y0:y1, x0:x1] += out * wt
            weight[y0:y1, x0:x1] += wt
    acc /= weight
    return np.clip(acc + 0.5, 0, 255).astype(np.uint8)

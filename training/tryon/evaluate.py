"""Try-on scores (NumPy and scikit-image, never torch): PSNR, SSIM and garment colour error.

PSNR and SSIM compare a whole output with the renderer's ground truth; the
colour error is the mean CIEDE2000 between output and truth over the pixels the
garment covers in the truth (coverage > MASK_LEVEL), i.e. "is it the garment's
colour". The classical baseline, ``paste``, is what a script without a model
does: cut the garment off its light background by thresholding and lay it over
the mannequin where it lies in the flat picture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ptx.training.common.metrics import psnr, ssim

MASK_LEVEL = 0.5  # truth coverage counted as garment
PASTE_THRESHOLD = 40.0  # summed RGB distance from the flat picture's background colour


def garment_delta_e(out: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Mean CIEDE2000 between ``out`` and ``truth`` (uint8 RGB) where ``mask`` > MASK_LEVEL."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    sel = np.asarray(mask) > MASK_LEVEL
    if not sel.any():
        return float("nan")
    a = rgb2lab(np.asarray(out, np.float64)[sel][None] / 255.0)
    b = rgb2lab(np.asarray(truth, np.float64)[sel][None] / 255.0)
    return float(deltaE_ciede2000(a, b).mean())


def paste(garment: np.ndarray, mannequin: np.ndarray) -> np.ndarray:
    """The baseline: the flat garment's non-background pixels laid over the mannequin."""
    g = np.asarray(garment, np.float32)
    corners = np.stack([g[0, 0], g[0, -1], g[-1, 0], g[-1, -1]]).mean(axis=0)
    fg = np.abs(g - corners).sum(axis=2) > PASTE_THRESHOLD
    out = np.array(mannequin, copy=True)
    out[fg] = garment[fg]
    return out


def scores(
    outputs: Sequence[np.ndarray], truths: Sequence[np.ndarray], masks: Sequence[np.ndarray]
) -> dict[str, float]:
    """Mean PSNR (dB), SSIM and garment CIEDE2000 of uint8 outputs against their truths."""
    p = [psnr(o, t) for o, t in zip(outputs, truths, strict=True)]
    s = [ssim(o, t) for o, t in zip(outputs, truths, strict=True)]
    de = [garment_delta_e(o, t, m) for o, t, m in zip(outputs, truths, masks, strict=True)]
    return {
        "psnr": float(np.mean(p)),
        "ssim": float(np.mean(s)),
        "garment_de2000": float(np.nanmean(de)),
    }


def sheet_rows(
    garments: Sequence[np.ndarray],
    mannequins: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
) -> list[np.ndarray]:
    """Tiles for a try-on sheet, one row per sample: garment | mannequin | output | truth."""
    tiles: list[np.ndarray] = []
    for row in zip(garments, mannequins, outputs, truths, strict=True):
        tiles.extend(row)
    return tiles

"""GrabCut refinement of a cut-out model's alpha (a spec's ``refine: grabcut``).

The net decides from what it learned on renders; GrabCut (Rother et al. 2004) fits colour
models to this photo's own product and backdrop, seeded by the net: pixels the net is sure
of (alpha >= SURE or <= 1 - SURE) are fixed, the rest are "probably" what the net says,
and one graph cut may flip them. Where the cut agrees with the net, the net's soft alpha
stays (soft edges, defocus); where it flips a pixel, the cut's hard 0/1 is taken.

Measured on validation renders (a seed neither training nor cutout_eval uses; the shipped
c18 model, mean IoU off -> on, 40 renders each): 160 px 0.929 -> 0.925, 256 px 0.940 ->
0.942, 384 px 0.944 -> 0.952, 512 px 0.961 -> 0.970; 768 px renders cut at 256 / 512 /
768 px: 0.962 -> 0.968 / 0.972 / 0.975. A photo under MIN_SIDE keeps the net's alpha, one
over MAX_SIDE is cut at MAX_SIDE and the flips enlarged (~25 ms at 256 px, ~100 at 512).
OpenCV's GrabCut seeds its k-means from a per-thread RNG whose state depends on earlier
calls; each call here seeds it, so the same photo always gets the same alpha.
"""

from __future__ import annotations

import sys

import numpy as np

from ptx.errors import MissingDependency
from ptx.image import resize_bilinear

SURE = 0.95  # the net's alpha at or above this (at or below 1 - SURE) is fixed for the cut
ITERATIONS = 1  # 1 scored as 3 on validation renders (0.9403 vs 0.9401) at 0.6x the time
MIN_SIDE = 256  # below it the cut lost IoU (160 px renders: 0.929 -> 0.925)
MAX_SIDE = 512  # GrabCut's cost grows with pixels: ~25 ms at 256 px, ~4x that at 512
REFINERS = ("grabcut",)
HINT = "pip install 'ptx[cutout]'"
_warned: list[bool] = []


def import_cv2():
    """OpenCV, or MissingDependency with the install hint."""
    try:
        import cv2
    except ImportError as exc:
        raise MissingDependency(
            "opencv-python-headless", "cutout", "GrabCut refinement", install=HINT
        ) from exc
    return cv2


def available() -> bool:
    """Whether OpenCV can be imported (else a spec's refinement is skipped with one note)."""
    try:
        import_cv2()
    except MissingDependency:
        if not _warned:  # once per process: a folder run would repeat it per photo
            _warned.append(True)
            sys.stderr.write(f"note: cut-out refinement off: no OpenCV ({HINT})\n")
        return False
    return True


def grabcut_refine(rgb: np.ndarray, alpha: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """The net's float32 HxW ``alpha`` for uint8 HxWx3 ``rgb``, refined by one graph cut."""
    cv2 = import_cv2()
    h, w = alpha.shape
    if max(h, w) < MIN_SIDE:
        return alpha
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        sh, sw = max(round(h * scale), 1), max(round(w * scale), 1)
        img, a = resize_bilinear(rgb, sh, sw).astype(np.uint8), resize_bilinear(alpha, sh, sw)
    else:
        img, a = rgb, alpha
    mask = np.where(a >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    mask[a >= SURE] = cv2.GC_FGD
    mask[a <= 1.0 - SURE] = cv2.GC_BGD
    if not np.isin(mask, (cv2.GC_PR_FGD, cv2.GC_PR_BGD)).any():
        return alpha  # the net is sure everywhere: nothing for the cut to decide
    probable = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if probable.all() or not probable.any():
        return alpha  # GrabCut needs both a product and a backdrop sample
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    bgr = np.ascontiguousarray(img[..., ::-1])
    cv2.grabCut(bgr, mask, None, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    cut = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    if scale < 1.0:
        cut = (resize_bilinear(cut, h, w) >= 0.5).astype(np.float32)
    return np.where((alpha >= 0.5) == (cut > 0.5), alpha, cut).astype(np.float32)


__all__ = [
    "ITERATIONS", "MAX_SIDE", "MIN_SIDE", "REFINERS", "SURE", "available", "grabcut_refine",
]  # fmt: skip

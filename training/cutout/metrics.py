"""Cut-out quality: IoU of the alpha > 0.5 masks and mean absolute alpha error (NumPy only)."""

from __future__ import annotations

import numpy as np


def alpha_iou(pred: np.ndarray, true: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of ``pred > threshold`` and ``true > threshold`` (1.0 when both are empty)."""
    p, t = np.asarray(pred) > threshold, np.asarray(true) > threshold
    union = np.count_nonzero(p | t)
    return 1.0 if union == 0 else float(np.count_nonzero(p & t) / union)


def alpha_mae(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute difference of two alpha mattes in [0, 1]."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"alpha shapes differ: {p.shape} vs {t.shape}")
    return float(np.abs(p - t).mean())


def mean_scores(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Mean IoU and MAE over (pred, true) alpha pairs."""
    if not pairs:
        return {"iou": float("nan"), "mae": float("nan")}
    return {
        "iou": float(np.mean([alpha_iou(p, t) for p, t in pairs])),
        "mae": float(np.mean([alpha_mae(p, t) for p, t in pairs])),
    }

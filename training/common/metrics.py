"""Image quality metrics in NumPy only (the runtime and the demo use them without torch)."""

from __future__ import annotations

import numpy as np

from ptx.errors import InputError

# Wang et al. (2004) constants, as skimage uses with gaussian_weights=True.
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise InputError(f"metric inputs differ in shape: {a.shape} vs {b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical inputs)."""
    x, y = _pair(a, b)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def _gauss_kernel(sigma: float, truncate: float) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _blur(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur of a 2-D array with symmetric (scipy 'reflect') borders."""
    r = len(k) // 2
    p = np.pad(img, r, mode="symmetric")
    h, w = img.shape
    rows = sum(k[i] * p[:, i : i + w] for i in range(len(k)))
    return sum(k[i] * rows[i : i + h, :] for i in range(len(k)))


def _ssim_channel(x: np.ndarray, y: np.ndarray, k: np.ndarray, data_range: float) -> float:
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mx, my = _blur(x, k), _blur(y, k)
    vx = _blur(x * x, k) - mx * mx
    vy = _blur(y * y, k) - my * my
    cxy = _blur(x * y, k) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    r = len(k) // 2  # borders see padded pixels; skimage leaves them out of the mean
    return float(s[r:-r, r:-r].mean())


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Gaussian-window SSIM (sigma 1.5) averaged over channels, for HxW or HxWxC images."""
    x, y = _pair(a, b)
    k = _gauss_kernel(SSIM_SIGMA, SSIM_TRUNCATE)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    if x.ndim != 3 or min(x.shape[:2]) < len(k):
        raise InputError(f"ssim needs HxW or HxWxC images of at least {len(k)} px, got {a.shape}")
    return float(
        np.mean([_ssim_channel(x[..., c], y[..., c], k, data_range) for c in range(x.shape[2])])
    )

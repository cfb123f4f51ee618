"""A seeded camera-like degradation model: (clean uint8 RGB) -> degraded uint8 RGB.

Steps run in the order a camera applies them: colour cast and exposure on the
linear-ish signal first, then softness (a lens blur, or a downscale and upscale
as a resize pipeline leaves it), then sensor noise (Poisson shot + Gaussian
read, and coarse-grained colour noise as demosaicing leaves it), then a real
JPEG encode/decode with Pillow. NumPy + Pillow only, so the demo
and the runtime evaluation can use it without torch.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ptx.errors import ImageError, InputError


@dataclass(frozen=True)
class DegradeConfig:
    """Ranges each degradation is drawn from (uniform unless noted).

    Every global error is two-sided: too dark and too bright, flatter and
    harsher, casts of every hue (mid-tone gamma is available, off by default).
    A model trained on one direction learns "always push that way" and ruins
    photos that were fine; each error keeps a gap around "no change" (the
    ``*_gap`` fields), where natural variation lives. Each stage, and each part
    of the colour stage, is applied with its own probability, so single
    degradations (noise only, JPEG only, a cast only) and several at once both
    occur; at least one stage is always applied.
    """

    cast: tuple[float, float] = (0.8, 1.25)  # per-channel gain, relative to the channels' mean
    brightness: tuple[float, float] = (0.5, 1.7)  # exposure gain, log-uniform: both directions
    offset: tuple[float, float] = (-0.25, 0.25)  # added level (lifted or crushed blacks), of 1.0
    contrast: tuple[float, float] = (0.6, 1.5)  # scale around the mean, log-uniform
    # Exponent, log-uniform. Off by default: a mid-tone change keeps the black and white
    # points, so a dark or light scene and a gamma'd one have the same statistics; what
    # cannot be told apart must be left alone (vary_look draws it as natural variation).
    gamma: tuple[float, float] = (1.0, 1.0)
    # Gaps: values a part is never drawn from, around "no change". What a clean photo can
    # naturally look like (see training.enhance.data.vary_look) must never also be a degraded
    # input whose target differs, or the model learns to half-correct every photo.
    cast_gap: float = 0.08  # a cast moves some channel's gain by at least this much
    brightness_gap: tuple[float, float] = (0.75, 1.3)
    offset_gap: float = 0.08  # |offset| at least this
    contrast_gap: tuple[float, float] = (0.8, 1.25)
    gamma_gap: tuple[float, float] = (1.0, 1.0)
    poisson_peak: tuple[float, float] = (40.0, 600.0)  # photons at white; log-uniform
    gaussian_sigma: tuple[float, float] = (1.0, 20.0)  # read noise, in 0..255 units
    chroma_sigma: tuple[float, float] = (2.0, 10.0)  # colour noise on a 2x coarser grid, 0..255
    p_chroma: float = 0.4  # share of noise stages that add colour noise too
    downscale: tuple[float, float] = (0.35, 0.8)  # resize factor before resizing back
    blur_sigma: tuple[float, float] = (0.5, 1.6)  # Gaussian lens blur, pixels
    jpeg_quality: tuple[int, int] = (15, 75)  # inclusive
    p_noise: float = 0.6  # probability each stage is applied
    p_jpeg: float = 0.5
    # A tone error in half the draws: with most degraded inputs also off in tone, the tone
    # classifier learned "any degradation means a tone error" and fired on noisy photos.
    p_color: float = 0.5
    p_soft: float = 0.3  # a blur or a downscale (half each)
    p_part: float = 0.6  # probability of each part of the colour stage (cast, exposure, ...)

    def __post_init__(self) -> None:
        ranges = ("cast", "brightness", "contrast", "gamma", "poisson_peak", "gaussian_sigma")
        for name in (*ranges, "chroma_sigma", "downscale", "blur_sigma"):
            lo, hi = getattr(self, name)
            if not (0 <= lo <= hi):
                raise InputError(f"DegradeConfig.{name}: need 0 <= low <= high, got ({lo}, {hi})")
        for name in ("brightness", "contrast", "gamma"):
            (lo, hi), (g_lo, g_hi) = getattr(self, name), getattr(self, f"{name}_gap")
            if not (lo <= g_lo <= g_hi <= hi):
                raise InputError(
                    f"DegradeConfig.{name}_gap: need {name} low <= gap low <= gap high <= "
                    f"{name} high, got {(g_lo, g_hi)} in {(lo, hi)}"
                )
        if not (0 <= self.offset_gap <= max(-self.offset[0], self.offset[1], 0.0)):
            raise InputError(
                f"DegradeConfig.offset_gap: need 0 <= gap <= |offset|, got {self.offset_gap}"
            )
        if not (0 <= self.cast_gap < 1):
            raise InputError(f"DegradeConfig.cast_gap: need 0 <= gap < 1, got {self.cast_gap}")
        lo, hi = self.offset
        if not (-1 <= lo <= hi <= 1):
            raise InputError(
                f"DegradeConfig.offset: need -1 <= low <= high <= 1, got {self.offset}"
            )
        if not 0 < self.downscale[1] <= 1:
            raise InputError(
                f"DegradeConfig.downscale: need factors in (0, 1], got {self.downscale}"
            )
        q_lo, q_hi = self.jpeg_quality
        if not (1 <= q_lo <= q_hi <= 100):
            raise InputError(
                f"DegradeConfig.jpeg_quality: need 1 <= low <= high <= 100, got {self.jpeg_quality}"
            )


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return (
        float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if lo > 0 else float(rng.uniform(lo, hi))
    )


def _outside(
    rng: np.random.Generator, span: tuple[float, float], gap: tuple[float, float]
) -> float:
    """Log-uniform in ``span`` but outside ``gap``: below or above it with equal odds."""
    (lo, hi), (g_lo, g_hi) = span, gap
    below = rng.random() < 0.5
    if below and lo < g_lo or not g_hi < hi:
        return _log_uniform(rng, lo, g_lo)
    return _log_uniform(rng, g_hi, hi)


def _signed_outside(rng: np.random.Generator, span: tuple[float, float], gap: float) -> float:
    """Uniform in ``span`` with ``|value| >= gap`` (where the span allows), either sign."""
    lo, hi = span
    if rng.random() < 0.5 and lo <= -gap or hi < gap:
        return float(rng.uniform(lo, min(-gap, hi)))
    return float(rng.uniform(max(gap, lo), hi))


def _cast_gains(rng: np.random.Generator, cfg: DegradeConfig) -> np.ndarray:
    """Per-channel gains with mean 1 whose largest deviation is at least ``cast_gap``."""
    gains = rng.uniform(*cfg.cast, size=3)
    dev = gains / gains.mean() - 1.0
    top = float(np.abs(dev).max())
    if top < cfg.cast_gap:  # too faint to tell from a natural tint: push it out
        dev = dev * (cfg.cast_gap / max(top, 1e-6))
    return (1.0 + dev).astype(np.float32)


def _color_exposure(x: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig) -> np.ndarray:
    """Per-channel cast, exposure gain, level offset, contrast around the mean, then gamma.

    Each part is applied with probability ``p_part`` (at least one of them).
    """
    active = np.array([True, True, True, True, cfg.gamma != (1.0, 1.0)])
    parts = (rng.random(5) < cfg.p_part) & active
    forced = int(rng.integers(0, 5))  # drawn even when unused: parameters stay in step
    if not parts.any():
        on = np.flatnonzero(active)
        parts[on[forced % len(on)]] = True
    gains = _cast_gains(rng, cfg)  # a cast shifts hue, exposure is drawn separately
    exposure = _outside(rng, cfg.brightness, cfg.brightness_gap)
    offset = _signed_outside(rng, cfg.offset, cfg.offset_gap)
    c = _outside(rng, cfg.contrast, cfg.contrast_gap)
    g = _outside(rng, cfg.gamma, cfg.gamma_gap)
    if parts[0]:
        x = x * gains
    if parts[1]:
        x = x * np.float32(exposure)
    if parts[2]:
        x = x + np.float32(offset)
    if parts[3]:
        m = np.float32(x.mean())
        x = (x - m) * np.float32(c) + m
    x = np.clip(x, 0.0, 1.0)
    return x ** np.float32(g) if parts[4] else x


def _noise(x: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig) -> np.ndarray:
    """Poisson shot noise (signal-dependent), Gaussian read noise, sometimes colour noise."""
    peak = _log_uniform(rng, *cfg.poisson_peak)
    x = rng.poisson(np.clip(x, 0.0, 1.0) * peak).astype(np.float32) / np.float32(peak)
    sigma = rng.uniform(*cfg.gaussian_sigma) / 255.0
    x = x + rng.normal(0.0, sigma, size=x.shape).astype(np.float32)
    chroma = rng.uniform(*cfg.chroma_sigma) / 255.0
    if rng.random() < cfg.p_chroma:
        h, w = x.shape[:2]
        coarse = rng.normal(0.0, chroma, size=((h + 1) // 2, (w + 1) // 2, 3))
        x = x + _resize(coarse.astype(np.float32), (h, w), "bilinear")
    return x


def _resize(x: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    """Resize float HxWxC to ``size`` (h, w), channel by channel (Pillow's float mode)."""
    from PIL import Image

    how = {
        "nearest": Image.Resampling.NEAREST,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
    }[method]
    chans = [
        np.asarray(Image.fromarray(np.ascontiguousarray(x[..., c])).resize(size[::-1], how))
        for c in range(x.shape[2])
    ]
    return np.stack(chans, axis=2).astype(np.float32)


def _soften(x: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig) -> np.ndarray:
    """A Gaussian lens blur or a downscale-and-upscale (nearest, bilinear or bicubic)."""
    from PIL import Image, ImageFilter

    blur = rng.random() < 0.5
    sigma = rng.uniform(*cfg.blur_sigma)
    factor = rng.uniform(*cfg.downscale)
    down, up = rng.choice(["nearest", "bilinear", "bicubic"], size=2)
    h, w = x.shape[:2]
    if blur:
        img = Image.fromarray(np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8))
        return np.asarray(img.filter(ImageFilter.GaussianBlur(sigma)), np.float32) / 255.0
    small = (max(1, round(h * factor)), max(1, round(w * factor)))
    return _resize(_resize(x, small, str(down)), (h, w), str(up))


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """A real JPEG round trip through Pillow."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def _check(clean: np.ndarray) -> None:
    if (
        not isinstance(clean, np.ndarray)
        or clean.dtype != np.uint8
        or clean.ndim != 3
        or clean.shape[2] != 3
    ):
        desc = (
            f"{clean.dtype} {clean.shape}"
            if isinstance(clean, np.ndarray)
            else type(clean).__name__
        )
        raise ImageError(f"degrade expects a uint8 HxWx3 RGB array, got {desc}")


def degrade(
    clean: np.ndarray, rng: np.random.Generator, cfg: DegradeConfig | None = None
) -> np.ndarray:
    """Degrade a clean uint8 RGB image with parameters drawn from ``rng``."""
    _check(clean)
    cfg = cfg or DegradeConfig()
    x = clean.astype(np.float32) / 255.0
    # Draw every stage's coin even when it is skipped, so a config change in one
    # stage does not reshuffle the random parameters of the others.
    odds = (cfg.p_color, cfg.p_noise, cfg.p_jpeg, cfg.p_soft)
    coins = rng.random(4) < odds
    pick = int(rng.integers(0, 4))
    if not coins.any() and max(odds) > 0:
        while not odds[pick] > 0:  # a stage that can run
            pick = (pick + 1) % 4
        coins[pick] = True
    do_color, do_noise, do_jpeg, do_soft = (bool(c) for c in coins)
    if do_color:
        x = _color_exposure(x, rng, cfg)
    if do_soft:
        x = _soften(x, rng, cfg)
    if do_noise:
        x = _noise(x, rng, cfg)
    out = np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
    if do_jpeg:
        out = _jpeg(out, quality)
    return out


def degrade_seeded(clean: np.ndarray, seed: int, cfg: DegradeConfig | None = None) -> np.ndarray:
    """Deterministic degradation: the same image and seed always give the same bytes."""
    return degrade(clean, np.random.default_rng(seed), cfg)


def make_pair(
    clean: np.ndarray, seed: int, cfg: DegradeConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A (degraded, clean) training pair for ``seed``."""
    return degrade_seeded(clean, seed, cfg), clean

"""Score an enhancer against the degraded input and the classical baseline (NumPy only)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptx.image import grid, letterbox
from ptx.io import write_image
from ptx.training.common.metrics import psnr, ssim
from ptx.training.data.degrade import degrade_seeded
from ptx.training.enhance.baseline import classical_enhance

# Colour photos that scikit-image ships inside its wheel (no download needed).
REAL_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")
METHODS = ("degraded", "classical", "model")


def real_photos(max_side: int = 512) -> dict[str, np.ndarray]:
    """scikit-image's bundled colour photos as uint8 RGB, longer side capped at ``max_side``."""
    import skimage.data
    from PIL import Image

    out = {}
    for name in REAL_PHOTOS:
        img = getattr(skimage.data, name)()[..., :3]
        h, w = img.shape[:2]
        scale = max_side / max(h, w)
        if scale < 1:
            size = (round(w * scale), round(h * scale))
            img = np.asarray(Image.fromarray(img).resize(size, Image.Resampling.LANCZOS))
        out[name] = np.ascontiguousarray(img)
    return out


@dataclass
class Row:
    """One image's scores: method -> (PSNR dB, SSIM)."""

    name: str
    scores: dict[str, tuple[float, float]]


@dataclass
class EvalResult:
    """Per-image rows and the pictures used for a before/after grid."""

    rows: list[Row] = field(default_factory=list)
    pictures: list[tuple[str, dict[str, np.ndarray]]] = field(default_factory=list)

    def mean(self, method: str) -> tuple[float, float]:
        """Average (PSNR, SSIM) of one method over every image."""
        vals = np.array([r.scores[method] for r in self.rows], dtype=np.float64)
        return float(vals[:, 0].mean()), float(vals[:, 1].mean())

    def to_dict(self) -> dict:
        """JSON-able summary: per-method means and per-image scores."""
        return {
            "mean": {m: dict(zip(("psnr", "ssim"), self.mean(m), strict=True)) for m in METHODS},
            "images": {r.name: {m: list(v) for m, v in r.scores.items()} for r in self.rows},
        }


def evaluate(
    clean: dict[str, np.ndarray],
    enhance: Callable[[list[np.ndarray]], list[np.ndarray]],
    seed: int = 0,
    repeats: int = 3,
    keep_pictures: int = 4,
) -> EvalResult:
    """Degrade each clean image ``repeats`` times (fixed seeds), score every method, average.

    One degradation draw swings the gain by several dB, so each image's row is the mean
    over ``repeats`` draws; the grid shows the first draw.
    """
    names = list(clean)
    result = EvalResult()
    for i, name in enumerate(names):
        ref = clean[name]
        draws = [degrade_seeded(ref, seed + 100 * r + i) for r in range(repeats)]
        restored = enhance(draws)
        per_method: dict[str, list[tuple[float, float]]] = {m: [] for m in METHODS}
        for r, degraded in enumerate(draws):
            outputs = {
                "degraded": degraded,
                "classical": classical_enhance(degraded),
                "model": restored[r],
            }
            for m, o in outputs.items():
                per_method[m].append((psnr(o, ref), ssim(o, ref)))
            if r == 0 and i < keep_pictures:
                result.pictures.append((name, {"clean": ref, **outputs}))
        scores = {m: tuple(np.mean(v, axis=0).tolist()) for m, v in per_method.items()}
        result.rows.append(Row(name, scores))
    return result


def markdown_table(result: EvalResult, title: str) -> str:
    """A Markdown table: one row per image plus the mean, PSNR/SSIM per method."""
    head = "| " + title + " | " + " | ".join(f"{m} PSNR / SSIM" for m in METHODS) + " |"
    lines = [head, "|" + "---|" * (len(METHODS) + 1)]
    for row in result.rows:
        cells = [f"{row.scores[m][0]:.2f} dB / {row.scores[m][1]:.3f}" for m in METHODS]
        lines.append(f"| {row.name} | " + " | ".join(cells) + " |")
    means = [result.mean(m) for m in METHODS]
    lines.append("| **mean** | " + " | ".join(f"**{p:.2f} dB / {s:.3f}**" for p, s in means) + " |")
    return "\n".join(lines)


def grid_image(
    pictures: Sequence[tuple[str, dict[str, np.ndarray]]],
    tile: int = 256,
    columns: Sequence[str] = ("clean", "degraded", "classical", "model"),
) -> np.ndarray:
    """A labelled before/after grid: one row per image, one column per method.

    The tiles (each picture letterboxed into tile x tile on white) are laid out by
    ``ptx.image.grid``; this adds the column titles above and each row's name.
    """
    from PIL import Image, ImageDraw

    pad, head = 4, 18
    tiles = [
        letterbox(imgs[col], tile, tile, fill=255)[0] for _, imgs in pictures for col in columns
    ]
    sheet = grid(tiles, ncol=len(columns), pad=pad, fill=255)
    title_bar = np.full((head, *sheet.shape[1:]), 255, np.uint8)
    canvas = Image.fromarray(np.concatenate([title_bar, sheet]))
    draw = ImageDraw.Draw(canvas)
    for c, col in enumerate(columns):
        draw.text((pad + c * (tile + pad) + 4, 3), col, fill=(0, 0, 0))
    for r, (name, _) in enumerate(pictures):
        x, y = pad + 2, head + pad + r * (tile + pad) + 2
        box = draw.textbbox((x + 2, y + 1), name)
        draw.rectangle((x, y, box[2] + 2, box[3] + 2), fill=(0, 0, 0))
        draw.text((x + 2, y + 1), name, fill=(255, 255, 255))
    return np.asarray(canvas)


def save_grid(result: EvalResult, path: str | Path, tile: int = 256) -> Path:
    """Write the before/after grid PNG atomically."""
    write_image(path, grid_image(result.pictures, tile))
    return Path(path)

"""A synthetic product catalogue: studio product photos with labels (NumPy + Pillow, no torch).

Image ``i`` of a catalogue depends only on ``(seed, i)``: its random stream is
``default_rng([seed, i])`` and its category and colour come from ``i`` through a
balanced schedule, so any n gives a prefix of the same sequence, byte for byte.
The product is drawn at twice the output size and averaged down (anti-aliasing,
``product_render``); the smooth background and shadows are made at the output
size (``studio``). This module names the vocabularies and writes catalogues.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ptx.errors import InputError
from ptx.io import atomic_write_bytes, atomic_write_text
from ptx.training.data import product_shapes as ps
from ptx.training.data.product_render import COLORS, render_layers
from ptx.training.data.studio import BACKGROUND_WEIGHTS, BACKGROUNDS, background, shadow

CATEGORIES: tuple[str, ...] = tuple(ps.SHAPES)
PATTERNS: tuple[str, ...] = ("solid", "stripes", "dots", "checks")
PATTERN_WEIGHTS = (0.4, 0.25, 0.2, 0.15)
MIN_SIZE, MAX_SIZE = 16, 4096


def check_size(size: int) -> None:
    """Refuse an output size outside 16..4096 px with one clear line."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} px, got {size}")


def schedule(index: int) -> tuple[str, str]:
    """(category, colour) of catalogue image ``index``: every pair once per len(C)*len(K)."""
    nc, nk = len(CATEGORIES), len(COLORS)
    combo = index % (nc * nk)
    cat, step = combo % nc, combo // nc
    return CATEGORIES[cat], list(COLORS)[(step + cat) % nk]


def render_with_mask(
    seed: int, index: int, size: int, category: str | None = None, color: str | None = None
) -> tuple[np.ndarray, dict[str, str], np.ndarray]:
    """Like render_product, plus the float32 0..1 coverage of the named-colour material."""
    check_size(size)
    if seed < 0 or index < 0:
        raise InputError(f"seed and index must be >= 0, got seed={seed} index={index}")
    cat0, col0 = schedule(index)
    category, color = category or cat0, color or col0
    if category not in ps.SHAPES:
        raise InputError(f"unknown category '{category}' (known: {', '.join(CATEGORIES)})")
    if color not in COLORS:
        raise InputError(f"unknown colour '{color}' (known: {', '.join(COLORS)})")
    rng = np.random.default_rng([seed, index])
    pattern = str(rng.choice(PATTERNS, p=PATTERN_WEIGHTS))
    bg_kind = str(rng.choice(BACKGROUNDS, p=BACKGROUND_WEIGHTS))
    shape = ps.SHAPES[category](rng)
    colour, alpha, mask = render_layers(shape, color, pattern, size, rng)
    bg = background(bg_kind, size, rng)
    bg *= (1.0 - shadow(alpha, shape.standing, rng))[..., None]
    out = bg * (1.0 - alpha[..., None]) + colour
    rgb = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    labels = {"category": category, "color": color, "pattern": pattern, "background": bg_kind}
    return rgb, labels, mask


def render_product(
    seed: int, index: int, size: int, category: str | None = None, color: str | None = None
) -> tuple[np.ndarray, dict[str, str]]:
    """Catalogue image ``index`` of ``seed``: uint8 HxWx3 RGB and its labels."""
    rgb, labels, _ = render_with_mask(seed, index, size, category, color)
    return rgb, labels


def synthesize(n: int, size: int, seed: int = 0) -> Iterator[tuple[np.ndarray, dict[str, str]]]:
    """Yield n catalogue images, balanced over categories x colours."""
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    check_size(size)
    for i in range(n):
        yield render_product(seed, i, size)


# -- writing a catalogue to disk ---------------------------------------------------
SPLITS = (("train", 8), ("val", 1), ("test", 1))  # tenths
CSV_COLUMNS = ("path", "category", "color", "pattern", "background", "split")


@dataclass
class CatalogueSummary:
    """What write_catalogue wrote."""

    out: Path
    images: int
    size: int
    seed: int
    categories: list[str]
    colors: list[str]
    splits: dict[str, int]
    seconds: float

    @property
    def images_per_s(self) -> float:
        """Throughput of the whole run (render + encode + write)."""
        return self.images / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        d = asdict(self)
        d["out"] = str(self.out)
        d["seconds"] = round(self.seconds, 3)
        d["images_per_s"] = round(self.images_per_s, 1)
        return d


def split_of(seed: int, index: int) -> str:
    """train / val / test (80/10/10) from a hash of (seed, index): stable for any n."""
    h = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=4).digest()
    tenth = int.from_bytes(h, "little") % 10
    for name, share in SPLITS:
        if tenth < share:
            return name
        tenth -= share
    return SPLITS[-1][0]


def image_relpath(labels: dict[str, str], index: int) -> str:
    """The ImageFolder path of one image, relative to the catalogue root."""
    cat = labels["category"]
    return f"{cat}/{cat}_{labels['color']}_{index:05d}.png"


def _write_chunk(out: Path, seed: int, size: int, indices: list[int]) -> list[dict[str, str]]:
    """Render, encode and atomically write some images; return their CSV rows."""
    rows = []
    for i in indices:
        rgb, labels = render_product(seed, i, size)
        rel = image_relpath(labels, i)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="PNG", compress_level=3)
        atomic_write_bytes(out / rel, buf.getvalue())
        rows.append({"path": rel, **labels, "split": split_of(seed, i)})
    return rows


def _prepare(out: Path) -> None:
    """Make ``out``; drop a stale labels.csv and temp files a killed run may have left."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; pick another --out")
    out.mkdir(parents=True, exist_ok=True)
    # Until the new labels.csv lands, the folder must not claim to be a finished catalogue.
    (out / "labels.csv").unlink(missing_ok=True)
    for stale in out.glob("**/.*.part"):
        stale.unlink(missing_ok=True)


def _chunks(n: int, per: int) -> list[list[int]]:
    return [list(range(s, min(s + per, n))) for s in range(0, n, per)]


def write_catalogue(
    out: Path, n: int, size: int, seed: int = 0, progress: bool = True, workers: int | None = None
) -> CatalogueSummary:
    """Write n images as out/<category>/<category>_<color>_<i>.png plus out/labels.csv."""
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    check_size(size)
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    out = Path(out)
    _prepare(out)
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if n >= 64 else 1
    start = time.perf_counter()
    rows: list[dict[str, str]] = []
    chunks = _chunks(n, max(1, min(32, n // (4 * max(workers, 1)) or 1)))
    bar = tqdm(total=n, unit="img", desc="synth", disable=not progress, file=sys.stderr)
    try:
        if workers <= 1:
            for chunk in chunks:
                rows += _write_chunk(out, seed, size, chunk)
                bar.update(len(chunk))
        else:
            ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                jobs = [pool.submit(_write_chunk, out, seed, size, c) for c in chunks]
                try:
                    for job, chunk in zip(jobs, chunks, strict=True):
                        rows += job.result()
                        bar.update(len(chunk))
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    finally:
        bar.close()
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "labels.csv", text.getvalue())
    splits = {name: sum(r["split"] == name for r in rows) for name, _ in SPLITS}
    return CatalogueSummary(
        out=out,
        images=len(rows),
        size=size,
        seed=seed,
        categories=sorted({r["category"] for r in rows}),
        colors=sorted({r["color"] for r in rows}),
        splits=splits,
        seconds=time.perf_counter() - start,
    )

"""Product shots on busy backdrops as plain image files: extra clean photos for the enhancer.

The catalogue renders a product on a studio sweep; real photos hold textures, clutter,
colour everywhere. The cut-out renderer (``matte.render_matte_kind``) already stages
products in front of such backdrops; written out as PNGs they widen what "a good photo"
looks like to the enhancer's tone classifier (without them it read real photos such as a
blue box on white or the moon as needing a correction). Image ``i`` of ``seed`` depends
only on ``(seed, i)``; files are written atomically, so a killed run leaves whole files.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

from PIL import Image

from ptx.errors import InputError
from ptx.io import atomic_write_bytes
from ptx.training.data.matte import render_matte_kind
from ptx.training.enhance.data import package_textures


def write_scenes(out: Path, n: int, size: int, seed: int = 0) -> dict[str, int]:
    """Write ``n`` renders as ``out/scene_<i>.png``; returns how many of each backdrop kind."""
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; pick another --out")
    textures = package_textures()
    kinds: Counter[str] = Counter()
    for i in range(n):
        rgb, _, kind = render_matte_kind(seed, i, size, textures)  # checks size itself
        kinds[kind] += 1
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="PNG", compress_level=3)
        atomic_write_bytes(out / f"scene_{i:05d}.png", buf.getvalue())
    return dict(kinds)

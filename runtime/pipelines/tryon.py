"""Virtual try-on (NumPy only, never torch): flat garment + mannequin -> the mannequin wearing it.

The model contract: two float image inputs named ``garment`` and ``mannequin``
(NCHW or NHWC by the spec's convention, one H x W) and one image output. A
try-on model is trained at one picture size (spec config ``side``) and with the
figure framed as its renderer frames it, so both pictures are letterboxed to
``side`` x ``side`` (the garment on white, the mannequin on its own corner
colour) and the output is that size. ``tryon_path`` pairs every garment with
every mannequin (files or folders), writes ``<garment>_on_<mannequin>.png``
atomically, and skips unreadable files with their reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptx.errors import ImageError, InputError, ModelError
from ptx.image import grid, letterbox
from ptx.io import SkipLog, iter_images, write_image
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.batching import RunSummary
from ptx.spec import ImageConvention

INPUTS = ("garment", "mannequin")
TASKS = ("tryon", "custom")
DEFAULT_SIDE = 64
CHUNK = 8  # pairs per engine call


@dataclass
class TryOnPlan:
    """How to feed one try-on engine: picture side and image convention."""

    side: int
    conv: ImageConvention = field(default_factory=ImageConvention)


def tryon_plan(engine: Engine) -> TryOnPlan:
    """The try-on contract (module docstring) applied to ``engine``, or one error line."""
    spec = engine.spec
    if spec is not None and spec.task not in TASKS:
        raise InputError(
            f"{engine.path.name}: a '{spec.task}' model, not a try-on model; pass the "
            "tryon .onnx exported from its checkpoint"
        )
    names = sorted(t.name for t in engine.inputs)
    if names != sorted(INPUTS):
        raise ModelError(
            f"{engine.path.name}: a try-on model needs inputs named {' and '.join(INPUTS)}, "
            f"it has: {', '.join(names)}"
        )
    side = DEFAULT_SIDE
    if spec is not None and "side" in spec.config:
        side = int(spec.config["side"])
    conv = spec.image if spec is not None and spec.image is not None else ImageConvention()
    return TryOnPlan(side=side, conv=conv)


def corner_colour(img: np.ndarray) -> int:
    """The grey level of a picture's four corners (its background), for letterbox bars."""
    c = np.stack([img[0, 0], img[0, -1], img[-1, 0], img[-1, -1]]).astype(np.float32)
    return int(round(float(c.mean())))


def fit_pair(garment: np.ndarray, mannequin: np.ndarray, side: int) -> tuple[np.ndarray, ...]:
    """Both pictures letterboxed to side x side (garment bars white, mannequin bars its bg)."""
    for what, img in (("garment", garment), ("mannequin", mannequin)):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise InputError(f"{what}: need a uint8 H x W x 3 RGB picture, got {img.shape}")
    g = letterbox(garment, side, side, 255)[0]
    m = letterbox(mannequin, side, side, corner_colour(mannequin))[0]
    return g, m


def tryon_arrays(
    engine: Engine | str | Path, garments: list[np.ndarray], mannequins: list[np.ndarray]
) -> list[np.ndarray]:
    """Dress ``mannequins[i]`` in ``garments[i]``; uint8 side x side RGB outputs in order."""
    if len(garments) != len(mannequins):
        raise InputError(f"{len(garments)} garments for {len(mannequins)} mannequins; pair them")
    if not isinstance(engine, Engine):
        engine = load(engine, **quiet_pool("auto"))
    plan = tryon_plan(engine)
    out: list[np.ndarray] = []
    for i in range(0, len(garments), CHUNK):
        feeds = tryon_feeds(plan, garments[i : i + CHUNK], mannequins[i : i + CHUNK])
        out.extend(tryon_images(plan, engine.run(feeds)))
    return out


def tryon_feeds(
    plan: TryOnPlan, garments: list[np.ndarray], mannequins: list[np.ndarray]
) -> dict[str, np.ndarray]:
    """The engine's feeds for garment/mannequin pairs (each fitted first; see ``fit_pair``)."""
    if len(garments) != len(mannequins):
        raise InputError(f"{len(garments)} garments for {len(mannequins)} mannequins; pair them")
    pairs = [fit_pair(g, m, plan.side) for g, m in zip(garments, mannequins, strict=True)]
    return {
        "garment": plan.conv.to_model([p[0] for p in pairs]),
        "mannequin": plan.conv.to_model([p[1] for p in pairs]),
    }


def tryon_images(plan: TryOnPlan, outputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The engine's first output -> uint8 side x side RGB pictures, in pair order."""
    return plan.conv.to_pixels(np.asarray(next(iter(outputs.values()))))


def _read_all(source: str | Path, skips: SkipLog) -> list[tuple[Path, np.ndarray]]:
    items = list(iter_images(source, skips))
    if not items and not skips.skipped:
        raise InputError(f"{source}: no images found")
    return items


def tryon_path(
    engine: Engine | str | Path,
    garment: str | Path,
    mannequin: str | Path,
    out: str | Path,
    sheet: str | Path | None = None,
) -> RunSummary:
    """Every garment on every mannequin into ``out``; optional sheet of garment|mannequin|output."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder; pick another path")
    if not isinstance(engine, Engine):
        engine = load(engine, **quiet_pool("auto"))
    plan = tryon_plan(engine)
    skips = SkipLog()
    garments, mannequins = _read_all(garment, skips), _read_all(mannequin, skips)
    pairs = [(g, m) for g in garments for m in mannequins]
    t0 = time.perf_counter()
    tiles: list[np.ndarray] = []
    written = 0
    out.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(pairs), CHUNK):
        part = pairs[i : i + CHUNK]
        try:
            dressed = tryon_arrays(engine, [g[1] for g, _ in part], [m[1] for _, m in part])
        except (InputError, ImageError) as exc:
            for (gp, _), (mp, _) in part:
                skips.add(f"{gp} + {mp}", str(exc))
            continue
        for ((gp, gi), (mp, mi)), img in zip(part, dressed, strict=True):
            write_image(out / f"{gp.stem}_on_{mp.stem}.png", img)
            written += 1
            if sheet is not None:
                tiles.extend([*fit_pair(gi, mi, plan.side), img])
    seconds = time.perf_counter() - t0
    if sheet is not None and tiles:
        write_image(sheet, grid(tiles, ncol=3))
    return RunSummary(
        images=written,
        failed=len(skips),
        seconds=seconds,
        images_per_s=written / max(seconds, 1e-9),
        backend=getattr(engine, "backend", "?"),
        out=str(out),
        skipped=skips.skipped,
    )

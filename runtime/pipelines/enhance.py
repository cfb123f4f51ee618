"""Enhance product photos with an image-to-image model (same size in, same size out)."""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ptx.errors import InputError, ModelError
from ptx.image import blend
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.engine import Engine
from ptx.runtime.pipelines.batching import (
    Item,
    RunSummary,
    decode_ahead,
    mark_output,
    plan_items,
    read_into,
    same_size_batches,
    save_image,
)
from ptx.runtime.pipelines.enhance_tiles import DEFAULT_MAX_PIXELS, enhance_tiled, fits
from ptx.spec import ImageConvention

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "models" / "enhance.onnx"  # the default
# Threads beside the engine's pool for decode/convert and convert/encode/write: the
# atomic writes wait on fsync, so more threads than cores keep the engine fed.
DECODE_WORKERS = 4
PENDING_WRITES = 8  # finished batches waiting for their encode, at most (bounded memory)


def image_convention(engine: Engine, override: ImageConvention | None = None) -> ImageConvention:
    """The convention to use: ``override``, else the ModelSpec's, else guessed from the layout.

    A foreign model without a spec gets range 0..1 RGB; NHWC when its input's last
    axis is a fixed 3 and its second is not.
    """
    if override is not None:
        return override
    if engine.spec is not None and engine.spec.image is not None:
        return engine.spec.image
    shape = image_input(engine).shape
    nhwc = shape[3] == 3 and shape[1] != 3
    return ImageConvention(layout="NHWC" if nhwc else "NCHW")


def image_input(engine: Engine):
    """The single 4-D image input an enhancement model must have."""
    if len(engine.inputs) != 1 or len(engine.inputs[0].shape) != 4:
        io = ", ".join(f"{t.name}{list(t.shape)}" for t in engine.inputs)
        raise ModelError(
            f"{engine.path.name}: enhance needs a model with one 4-D image input, it has: {io}"
        )
    return engine.inputs[0]


def enhance_batch(
    engine: Engine, images: list[np.ndarray], conv: ImageConvention, strength: float = 1.0
) -> list[np.ndarray]:
    """Run one batch of same-size uint8 RGB images; outputs are cropped back to their size.

    ``strength`` < 1 applies that fraction of the edit (``ptx.image.blend``).
    """
    info = image_input(engine)
    h, w = images[0].shape[:2]
    y = _run(engine, conv.to_model(images, info.dtype))
    out = conv.to_pixels(y, size=(h, w))
    if strength < 1.0:
        out = [blend(img, o, strength) for img, o in zip(images, out, strict=True)]
    return out


def _run(engine: Engine, x: np.ndarray) -> np.ndarray:
    return next(iter(engine.run({engine.inputs[0].name: x}).values()))


def tile_budget(engine: Engine, max_pixels: int | None) -> int | None:
    """Pixels per model call past which a photo runs in tiles; None: never tiled.

    ``max_pixels`` given wins (0: never). By default enhancement models (task
    ``enhance``, or a foreign model without a spec) tile past the largest image their
    ModelSpec's shape profile declares (the shipped enhancer: 1024x1024), else past
    DEFAULT_MAX_PIXELS; other image-to-image tasks (stylize) run whole.
    """
    if max_pixels is not None:
        if max_pixels < 0:
            raise InputError(f"--max-pixels must be >= 0, got {max_pixels}")
        return max_pixels or None
    spec = engine.spec
    if spec is not None and spec.task != "enhance":
        return None
    sides = tile_sides(engine)
    return DEFAULT_MAX_PIXELS if sides is None else sides[0] * sides[1]


def tile_sides(engine: Engine) -> tuple[int, int] | None:
    """The largest H and W the model's ModelSpec profile declares (None: no profile).

    A tile or whole photo past either side is out of the profile (a TensorRT plan
    refuses it) even when its pixel count is within the budget.
    """
    spec = engine.spec
    top = spec.profile.max.get(engine.inputs[0].name) if spec and spec.profile else None
    if top is None or len(top) != 4:
        return None
    nhwc = spec.image is not None and spec.image.layout == "NHWC"
    h, w = top[1:3] if nhwc else top[2:4]
    return int(h), int(w)


def runs_whole(engine: Engine, budget: int | None, h: int, w: int) -> bool:
    """Whether an h x w photo runs in one call under ``budget`` (None: never tiled)."""
    return budget is None or fits(h, w, budget, tile_sides(engine))


def enhance_image(
    engine: Engine,
    image: np.ndarray,
    conv: ImageConvention,
    strength: float = 1.0,
    max_pixels: int | None = None,
) -> np.ndarray:
    """One uint8 RGB photo of any size; past the tile budget it runs in blended tiles."""
    budget = tile_budget(engine, max_pixels)
    if runs_whole(engine, budget, *image.shape[:2]):
        return enhance_batch(engine, [image], conv, strength)[0]

    def run(tile: np.ndarray) -> np.ndarray:
        return enhance_batch(engine, [tile], conv)[0]

    out = enhance_tiled(image, run, budget, max_hw=tile_sides(engine))
    return blend(image, out, strength)


def enhance_arrays(
    engine: Engine,
    images: list[np.ndarray],
    batch: int = 1,
    conv: ImageConvention | None = None,
    strength: float = 1.0,
    max_pixels: int | None = None,
) -> list[np.ndarray]:
    """Enhance uint8 HWC RGB images in memory, in order (same-size neighbours share a batch).

    Photos over the tile budget (``tile_budget``) run one at a time, in tiles.
    """
    if batch < 1:
        raise InputError(f"batch must be >= 1, got {batch}")
    check_strength(strength)
    conv = image_convention(engine, conv)
    budget = tile_budget(engine, max_pixels)
    items = [Item(Path(str(i)), Path(), img) for i, img in enumerate(images)]
    out: list[np.ndarray] = []
    for group in same_size_batches(items, batch):
        h, w = group[0].image.shape[:2]
        if not runs_whole(engine, budget, h, w):
            out.extend(enhance_image(engine, it.image, conv, strength, budget) for it in group)
        else:
            out.extend(enhance_batch(engine, [it.image for it in group], conv, strength))
    return out


def check_strength(strength: float) -> None:
    """InputError unless 0 <= strength <= 1 (checked once, before any image is read)."""
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"--strength must be in 0..1, got {strength}")


def _resolve_engine(engine_or_path: Engine | str | Path, threads: int | None) -> Engine:
    if isinstance(engine_or_path, Engine):
        return engine_or_path
    # Decoding threads share the cores with the engine: parked, not spinning, pool threads.
    return load(engine_or_path, threads=threads, **quiet_pool("auto"))


def _prepare(item: Item, conv: ImageConvention, dtype: np.dtype, whole: Callable) -> None:
    """Worker: decode, and convert to the model's input unless the photo will be tiled."""
    read_into(item)
    if whole(*item.image.shape[:2]):
        item.x = conv.to_model([item.image], dtype)


def _finish(item: Item, y: np.ndarray, i: int, conv: ImageConvention, strength: float) -> None:
    """Worker: output ``i`` of batch ``y`` back to pixels, blended, encoded and written."""
    rgb = conv.to_pixels(y[i : i + 1], size=item.image.shape[:2])[0]
    save_image(item.dest, blend(item.image, rgb, strength), item.alpha, item.source)


def _write_whole(item: Item, rgb: np.ndarray) -> None:
    save_image(item.dest, rgb, item.alpha, item.source)


def enhance_path(
    engine_or_path: Engine | str | Path,
    input: str | Path,
    out: str | Path,
    batch: int = 1,
    threads: int | None = None,
    progress: bool = True,
    conv: ImageConvention | None = None,
    workers: int = DECODE_WORKERS,
    strength: float = 1.0,
    max_pixels: int | None = None,
) -> RunSummary:
    """Enhance a file or a folder (recursive) into ``out``, keeping relative paths and names.

    The calling thread only runs the engine. ``workers`` threads decode and convert
    ahead (bounded look-ahead) and convert back, encode and write behind (at most
    PENDING_WRITES batches queued), so all but the model overlaps with inference.
    Photos over the tile budget run in tiles (``tile_budget``). Unreadable images
    and batches the model rejects are skipped and listed in the summary.
    """
    if batch < 1:
        raise InputError(f"--batch must be >= 1, got {batch}")
    check_strength(strength)
    items = plan_items(input, out)
    engine = _resolve_engine(engine_or_path, threads)
    info = image_input(engine)  # a model of the wrong kind fails once, not once per file
    conv = image_convention(engine, conv)
    budget = tile_budget(engine, max_pixels)
    mark_output(input, out)
    skipped: list[tuple[str, str]] = []
    writes: deque[tuple[Item, Future]] = deque()
    done = 0
    bar = tqdm(total=len(items), unit="img", file=sys.stderr, disable=not progress, leave=False)
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="ptx-io")

    def fail(item: Item, reason: str) -> None:
        skipped.append((str(item.source), reason))
        bar.update(1)

    def drain(keep: int) -> None:
        nonlocal done
        while writes and (len(writes) > keep or writes[0][1].done()):
            item, future = writes.popleft()
            try:
                future.result()
                done += 1
                bar.update(1)
            except InputError as exc:  # ptx.io's one line for a failed write (disk full...)
                fail(item, str(exc))
            except (OSError, ValueError) as exc:
                fail(item, f"{item.dest}: cannot write ({exc})")
            finally:
                item.image = item.alpha = None

    whole = partial(runs_whole, engine, budget)
    prepare = partial(_prepare, conv=conv, dtype=info.dtype, whole=whole)
    start = time.perf_counter()
    try:
        prepared = decode_ahead(pool, items, 2 * batch + max(1, workers), fail, prepare)
        for group in same_size_batches(prepared, batch):
            if group[0].x is None:  # over the tile budget: tiles, one photo at a time
                for item in group:
                    try:
                        rgb = enhance_image(engine, item.image, conv, strength, budget)
                    except (InputError, ModelError) as exc:
                        fail(item, str(exc))
                        continue
                    writes.append((item, pool.submit(_write_whole, item, rgb)))
                drain(keep=PENDING_WRITES * batch)
                continue
            try:
                xs = [it.x for it in group]
                y = _run(engine, xs[0] if len(xs) == 1 else np.concatenate(xs))
            except (InputError, ModelError) as exc:
                for item in group:
                    fail(item, str(exc))
                continue
            finally:
                for item in group:
                    item.x = None
            for i, item in enumerate(group):
                writes.append((item, pool.submit(_finish, item, y, i, conv, strength)))
            drain(keep=PENDING_WRITES * batch)
        drain(keep=0)
    except BaseException:
        # Ctrl-C: drop queued work; writes already running finish whole (they are atomic).
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        raise
    pool.shutdown(wait=True)
    bar.close()
    seconds = time.perf_counter() - start
    return RunSummary(
        images=done,
        failed=len(skipped),
        seconds=seconds,
        images_per_s=done / seconds if seconds > 0 else 0.0,
        backend=engine.backend,
        out=str(out),
        skipped=skipped,
    )

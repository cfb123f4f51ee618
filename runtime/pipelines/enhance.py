"""Enhance product photos with an image-to-image model (same size in, same size out)."""

from __future__ import annotations

import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
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
    same_size_batches,
    save_image,
)
from ptx.spec import ImageConvention

DECODE_WORKERS = 2  # decoding + encoding threads beside the engine's own pool


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
    x = conv.to_model(images, info.dtype)
    y = next(iter(engine.run({info.name: x}).values()))
    out = conv.to_pixels(y, size=(h, w))
    if strength < 1.0:
        out = [blend(img, o, strength) for img, o in zip(images, out, strict=True)]
    return out


def enhance_arrays(
    engine: Engine,
    images: list[np.ndarray],
    batch: int = 1,
    conv: ImageConvention | None = None,
    strength: float = 1.0,
) -> list[np.ndarray]:
    """Enhance uint8 HWC RGB images in memory, in order (same-size neighbours share a batch)."""
    if batch < 1:
        raise InputError(f"batch must be >= 1, got {batch}")
    check_strength(strength)
    conv = image_convention(engine, conv)
    items = [Item(Path(str(i)), Path(), img) for i, img in enumerate(images)]
    out: list[np.ndarray] = []
    for group in same_size_batches(items, batch):
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
) -> RunSummary:
    """Enhance a file or a folder (recursive) into ``out``, keeping relative paths and names.

    Decoding runs ahead on ``workers`` threads while the engine runs the current
    batch; encoding and the atomic writes go to the same pool. Unreadable images
    and batches the model rejects are skipped and listed in the summary.
    """
    if batch < 1:
        raise InputError(f"--batch must be >= 1, got {batch}")
    check_strength(strength)
    items = plan_items(input, out)
    engine = _resolve_engine(engine_or_path, threads)
    image_input(engine)  # a model of the wrong kind fails once, not once per file
    conv = image_convention(engine, conv)
    mark_output(input, out)
    skipped: list[tuple[str, str]] = []
    writes: deque[tuple[Item, Future]] = deque()
    done = 0
    bar = tqdm(total=len(items), unit="img", file=sys.stderr, disable=not progress, leave=False)
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="ptx-io")

    def fail(item: Item, reason: str) -> None:
        skipped.append((str(item.source), reason))
        bar.update(1)

    def drain(block: bool) -> None:
        nonlocal done
        while writes and (block or writes[0][1].done()):
            item, future = writes.popleft()
            try:
                future.result()
                done += 1
                bar.update(1)
            except InputError as exc:  # ptx.io's one line for a failed write (disk full...)
                fail(item, str(exc))
            except (OSError, ValueError) as exc:
                fail(item, f"{item.dest}: cannot write ({exc})")

    start = time.perf_counter()
    try:
        decoded = decode_ahead(pool, items, 2 * batch + max(1, workers), fail)
        for group in same_size_batches(decoded, batch):
            try:
                results = enhance_batch(engine, [it.image for it in group], conv, strength)
            except (InputError, ModelError) as exc:
                for item in group:
                    fail(item, str(exc))
                continue
            for item, rgb in zip(group, results, strict=True):
                item.image = None  # free the decoded input while the write is pending
                writes.append((item, pool.submit(save_image, item.dest, rgb)))
            drain(block=False)
        drain(block=True)
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

"""The GPU enhance pipeline: decode threads → pinned staging → H2D → preprocess kernel →
model → postprocess kernel → D2H, double-buffered: two slots, each with its own stream
and event, so staging batch k+1 (and decoding further ahead) overlaps GPU work on k.

Same semantics as the CPU pipeline (pipelines/enhance.py): reflect padding to the
convention's ``multiple_of``, outputs cropped back to each image's size.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ptx.errors import InputError, ModelError
from ptx.image import blend
from ptx.runtime.cuda import (
    DeviceBuffer,
    Event,
    PinnedBuffer,
    Stream,
    copy_d2h,
    copy_h2d,
    is_double,
    parse_device,
)
from ptx.runtime.engine import Engine
from ptx.runtime.kernels.ops import kernels_for
from ptx.runtime.kernels.params import PostParams, PreParams, inverse_params, pad_params
from ptx.runtime.pipelines.batching import (
    Item,
    RunSummary,
    decode_ahead,
    plan_items,
    same_size_batches,
    save_image,
)
from ptx.runtime.pipelines.enhance import check_strength, image_convention
from ptx.spec import ImageConvention

# model(x, out, stream): read device array x, write device array out, queued on stream.
DeviceModel = Callable[[Any, Any, int], None]


def engine_model(engine: Engine) -> tuple[DeviceModel, np.dtype, np.dtype]:
    """A DeviceModel over an engine with ``run_device`` (TensorRT, ORT CUDA), and its dtypes."""
    if not engine.device_arrays:
        raise ModelError(
            f"{engine.path.name}: the {engine.backend} backend has no GPU path; "
            "use a .plan (TensorRT) or onnxruntime-gpu, or the CPU pipeline"
        )
    if len(engine.inputs) != 1 or len(engine.outputs) != 1:
        raise ModelError(f"{engine.path.name}: the GPU pipeline needs one input and one output")
    src, dst = engine.inputs[0], engine.outputs[0]

    def run(x: Any, out: Any, stream: int) -> None:
        engine.run_device({src.name: x}, {dst.name: out}, stream=stream)

    return run, src.dtype, dst.dtype


@dataclass
class Slot:
    """One of the two in-flight batches: its stream, buffers and completion event."""

    stream: Any
    event: Any
    key: tuple = ()
    bufs: dict[str, Any] = field(default_factory=dict)
    pending: list[Any] | None = None  # what the batch in flight belongs to
    n: int = 0

    def ensure(self, n: int, pre: PreParams, post: PostParams, in_dt: Any, out_dt: Any) -> None:
        """Buffers for ``n`` images of this geometry, reallocated only when it changes."""
        key = (n, pre.src_hw, pre.out_hw, np.dtype(in_dt).str, np.dtype(out_dt).str)
        if key == self.key:
            return
        self.stream.synchronize()
        for buf in self.bufs.values():
            buf.close()
        h, w = pre.src_hw
        self.bufs = {
            "stage": PinnedBuffer((n, h, w, 3), np.uint8),
            "src": DeviceBuffer((n, h, w, 3), np.uint8),
            "x": DeviceBuffer(pre.out_shape(n), in_dt),
            "y": DeviceBuffer(post.in_shape(n), out_dt),
            "rgb": DeviceBuffer((n, h, w, 3), np.uint8),
            "out": PinnedBuffer((n, h, w, 3), np.uint8),
        }
        self.key = key


class GpuEnhancer:
    """Runs same-size uint8 RGB batches through a DeviceModel on the GPU, two at a time."""

    def __init__(
        self,
        model: DeviceModel,
        conv: ImageConvention,
        in_dtype: Any = np.float32,
        out_dtype: Any = np.float32,
        device: int = 0,
    ) -> None:
        self.kernels = kernels_for(device)
        self.model, self.conv = model, conv
        self.in_dtype, self.out_dtype = np.dtype(in_dtype), np.dtype(out_dtype)
        for dt in (self.in_dtype, self.out_dtype):
            if dt.name not in ("float16", "float32"):
                raise ModelError(f"the GPU pipeline feeds float16/float32 models, not {dt.name}")
        self.slots = [Slot(Stream(), Event()), Slot(Stream(), Event())]
        self.turn = 0

    def submit(self, images: list[np.ndarray], tag: Any = None) -> tuple[Any, list] | None:
        """Queue one batch; returns the batch that finished to make room (tag, images), if any."""
        if not images:
            raise InputError("no images to process")
        slot = self.slots[self.turn]
        self.turn = 1 - self.turn
        done = self._collect(slot)
        n, (h, w) = len(images), images[0].shape[:2]
        pre = pad_params((h, w), self.conv, dtype=self.in_dtype.name)
        post = inverse_params(pre, self.conv, dtype=self.out_dtype.name)
        slot.ensure(n, pre, post, self.in_dtype, self.out_dtype)
        b, s = slot.bufs, slot.stream.handle
        np.stack(images, out=b["stage"].array)  # decoded arrays → pinned staging, one copy
        copy_h2d(b["src"], b["stage"].array, s)
        self.kernels.preprocess(b["src"], b["x"], pre, s)
        self.model(b["x"].array, b["y"].array, s)
        self.kernels.postprocess(b["y"], b["rgb"], post, s)
        copy_d2h(b["out"].array, b["rgb"], s)
        slot.event.record(s)
        slot.pending, slot.n = [tag], n
        return done

    def _collect(self, slot: Slot) -> tuple[Any, list] | None:
        if slot.pending is None:
            return None
        slot.event.synchronize()
        tag, slot.pending = slot.pending[0], None
        return tag, [img.copy() for img in slot.bufs["out"].array[: slot.n]]

    def drain(self) -> Iterator[tuple[Any, list]]:
        """The batches still in flight, oldest first."""
        for i in (self.turn, 1 - self.turn):
            done = self._collect(self.slots[i])
            if done is not None:
                yield done

    def run(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """One same-size batch through the GPU, waited for (a server's request or merged batch)."""
        first = self.submit(images, "now")  # a batch still in flight is collected first
        for tag, imgs in [*([first] if first else []), *self.drain()]:
            if tag == "now":
                return imgs
        raise ModelError("the GPU pipeline lost a batch")  # cannot happen: submit queued it

    def close(self) -> None:
        """Wait for work in flight, then free the slots' buffers and streams."""
        for slot in self.slots:
            slot.stream.synchronize()
            for buf in slot.bufs.values():
                buf.close()
            slot.bufs, slot.key, slot.pending = {}, (), None
            slot.stream.close()


def engine_enhancer(engine: Engine, conv: ImageConvention | None = None) -> GpuEnhancer:
    """A GpuEnhancer over a GPU engine (its own streams), with the engine's image convention."""
    model, in_dt, out_dt = engine_model(engine)
    device = parse_device(engine.device) if engine.device != "cpu" else 0
    return GpuEnhancer(model, image_convention(engine, conv), in_dt, out_dt, device)


def enhance_arrays_gpu(
    model: Engine | DeviceModel,
    images: list[np.ndarray],
    conv: ImageConvention,
    batch: int = 1,
    dtypes: tuple[Any, Any] = (np.float32, np.float32),
    strength: float = 1.0,
) -> list[np.ndarray]:
    """Enhance uint8 HWC RGB images in memory on the GPU, in order.

    ``strength`` < 1 applies that fraction of the edit (``ptx.image.blend``, on the host).
    """
    if batch < 1:
        raise InputError(f"batch must be >= 1, got {batch}")
    check_strength(strength)
    if isinstance(model, Engine):
        model, *dtypes = engine_model(model)
    gpu = GpuEnhancer(model, conv, *dtypes)
    items = [Item(Path(str(i)), Path(), img) for i, img in enumerate(images)]
    out: dict[int, list[np.ndarray]] = {}
    try:
        for k, group in enumerate(same_size_batches(items, batch)):
            done = gpu.submit([it.image for it in group], k)
            if done:
                out[done[0]] = done[1]
        for tag, imgs in gpu.drain():
            out[tag] = imgs
    finally:
        gpu.close()  # its streams and buffers now, not whenever the collector runs
    results = [img for k in sorted(out) for img in out[k]]
    return [blend(src, img, strength) for src, img in zip(images, results, strict=True)]


def _blend_save(item: Item, rgb: np.ndarray, strength: float) -> None:
    """Worker: apply ``strength`` of the edit against the decoded input, then write."""
    if strength < 1.0:
        rgb = blend(item.image, rgb, strength)
    item.image = None
    save_image(item.dest, rgb, item.alpha, item.source)


def enhance_path_gpu(
    engine: Engine,
    input: str | Path,
    out: str | Path,
    batch: int = 1,
    conv: ImageConvention | None = None,
    progress: bool = True,
    workers: int = 2,
    strength: float = 1.0,
) -> RunSummary:
    """Enhance a file or folder on the GPU; decoding and writing run on ``workers`` threads.

    ``strength`` < 1 blends each output with its decoded input on a writer thread.
    """
    if batch < 1:
        raise InputError(f"--batch must be >= 1, got {batch}")
    check_strength(strength)
    items = plan_items(input, out)
    gpu = engine_enhancer(engine, conv)
    skipped: list[tuple[str, str]] = []
    bar = tqdm(total=len(items), unit="img", file=sys.stderr, disable=not progress, leave=False)
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="ptx-gpu-io")
    writes = []

    def fail(item: Item, reason: str) -> None:
        skipped.append((str(item.source), reason))
        bar.update(1)

    def write(done: tuple[Any, list] | None) -> None:
        if done is None:
            return
        for item, rgb in zip(done[0], done[1], strict=True):
            writes.append((item, pool.submit(_blend_save, item, rgb, strength)))
            bar.update(1)

    start = time.perf_counter()
    try:
        decoded = decode_ahead(pool, items, 2 * batch + workers, fail)
        for group in same_size_batches(decoded, batch):
            write(gpu.submit([it.image for it in group], group))
            if strength >= 1.0:  # a blend needs the input until its output is back
                for it in group:
                    it.image = None
        for done in gpu.drain():
            write(done)
        for item, future in writes:
            try:
                future.result()
            except InputError as exc:  # ptx.io's one line for a failed write (disk full...)
                skipped.append((str(item.source), str(exc)))
            except (OSError, ValueError) as exc:
                skipped.append((str(item.source), f"{item.dest}: cannot write ({exc})"))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    seconds = time.perf_counter() - start
    done_count = len(items) - len(skipped)
    return RunSummary(
        images=done_count, failed=len(skipped), seconds=seconds,
        images_per_s=done_count / seconds if seconds > 0 else 0.0,
        backend=f"{engine.backend}+cuda{' (CPU double)' if is_double() else ''}", out=str(out),
        skipped=skipped,
    )  # fmt: skip

"""Stylize product photos with a fast style-transfer model (same size in, same size out).

A style model is an image-to-image model, so the folder run is enhance's (names
kept, bad files skipped and counted, atomic writes); what is added is the size
floor: the network's first reflection pad needs a side of at least
``min_side`` (from the spec), and an image below it is refused with one line
instead of an opaque backend error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptx.errors import InputError, ModelError
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.engine import Engine, TensorInfo
from ptx.runtime.pipelines.batching import RunSummary
from ptx.runtime.pipelines.enhance import enhance_arrays, enhance_path, image_input
from ptx.spec import ImageConvention

DEFAULT_MIN_SIDE = 1  # a foreign model without a spec: let the backend decide


def min_side(engine: Engine) -> int:
    """The smallest H and W the model takes: spec config ``min_side``, else its profile's min."""
    spec = engine.spec
    if spec is None:
        return DEFAULT_MIN_SIDE
    if "min_side" in spec.config:
        return int(spec.config["min_side"])
    info = image_input(engine)
    if spec.profile is not None and info.name in spec.profile.min:
        lo = spec.profile.min[info.name]
        return int(min(lo[2:] if spec.image is None or spec.image.layout == "NCHW" else lo[1:3]))
    return DEFAULT_MIN_SIDE


def check_size(h: int, w: int, floor: int, where: str = "image") -> None:
    """Raise InputError (a folder run skips it) when h x w is below the model's minimum side."""
    if min(h, w) < floor:
        raise InputError(
            f"{where} is {w}x{h} px but the style model needs at least {floor}x{floor}; "
            "use a larger image"
        )


class SizeGuard(Engine):
    """An Engine that refuses inputs below the model's minimum side, then delegates."""

    def __init__(self, inner: Engine) -> None:
        super().__init__(inner.path, inner.spec)
        self.inner = inner
        self.backend = inner.backend
        self.device, self.choice = inner.device, inner.choice
        self.floor = min_side(inner)
        self.layout = inner.spec.image.layout if inner.spec and inner.spec.image else "NCHW"

    @property
    def inputs(self) -> list[TensorInfo]:
        return self.inner.inputs

    @property
    def outputs(self) -> list[TensorInfo]:
        return self.inner.outputs

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for arr in feeds.values():
            if np.ndim(arr) == 4:
                h, w = arr.shape[1:3] if self.layout == "NHWC" else arr.shape[2:4]
                check_size(int(h), int(w), self.floor)
        return self.inner.run(feeds)


def _guarded(engine_or_path: Engine | str | Path, threads: int | None) -> SizeGuard:
    if isinstance(engine_or_path, SizeGuard):
        return engine_or_path
    if not isinstance(engine_or_path, Engine):
        engine_or_path = load(engine_or_path, threads=threads, **quiet_pool("auto"))
    if engine_or_path.spec is not None and engine_or_path.spec.task not in ("stylize", "custom"):
        raise ModelError(
            f"{engine_or_path.path.name}: a '{engine_or_path.spec.task}' model, not a style "
            "model; pass the style model's .onnx"
        )
    return SizeGuard(engine_or_path)


def stylize_arrays(
    engine: Engine | str | Path, images: list[np.ndarray], conv: ImageConvention | None = None
) -> list[np.ndarray]:
    """Stylize uint8 HWC RGB images in memory (any sizes >= the model's minimum), in order."""
    guard = _guarded(engine, None)
    for i, img in enumerate(images):
        check_size(img.shape[0], img.shape[1], guard.floor, f"image {i}")
    return enhance_arrays(guard, images, batch=1, conv=conv)


def stylize_path(
    engine: Engine | str | Path,
    input: str | Path,
    out: str | Path,
    batch: int = 1,
    threads: int | None = None,
    progress: bool = True,
) -> RunSummary:
    """Stylize a file or folder into ``out`` (names kept); too-small or bad files are skipped."""
    return enhance_path(_guarded(engine, threads), input, out, batch=batch, progress=progress)

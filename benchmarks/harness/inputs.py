"""Benchmark inputs: resolve every input's shape, check it against the model, and fill it.

Shapes come from ``--shapes NAME:SHAPE`` first, then the ModelSpec's default
profile (``opt``), with ``--batch`` overriding axis 0. Values follow the spec:
image tensors span the image convention's range (after mean/std), integer
labels stay within their vocabulary, other floats are standard normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ptx.errors import InputError
from ptx.runtime.engine import TensorInfo
from ptx.spec import ModelSpec

_DTYPES = {"float32", "float16", "int64", "int32", "uint8", "bool"}


@dataclass(frozen=True)
class ShapeArg:
    """One ``--shapes`` entry: input name, shape, optional dtype (for models without IO)."""

    name: str
    shape: tuple[int, ...]
    dtype: str | None = None


def parse_shape_arg(text: str) -> ShapeArg:
    """Parse ``NAME:1x3x256x256[:dtype]`` (trtexec's --shapes form, one input per flag)."""
    parts = text.rsplit(":", 2) if text.count(":") >= 2 else text.rsplit(":", 1)
    if len(parts) < 2 or not parts[0]:
        raise InputError(f"--shapes '{text}': expected NAME:SHAPE, e.g. x:1x3x256x256")
    name, dims = parts[0], parts[1]
    dtype = parts[2] if len(parts) == 3 else None
    if dtype is not None and dtype not in _DTYPES:
        raise InputError(f"--shapes '{text}': unknown dtype '{dtype}' (use {sorted(_DTYPES)})")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        raise InputError(f"--shapes '{text}': SHAPE must be integers joined by x") from None
    if any(d <= 0 for d in shape):
        raise InputError(f"--shapes '{text}': every dim must be positive")
    return ShapeArg(name, shape, dtype)


def parse_batches(text: str | None) -> list[int | None]:
    """``"1,8,32"`` -> [1, 8, 32]; None -> [None] (batch from the shapes or the spec)."""
    if text is None or text == "":
        return [None]
    try:
        batches = [int(b) for b in str(text).split(",") if b.strip()]
    except ValueError:
        raise InputError(f"--batch '{text}': expected integers like 1,8,32") from None
    if not batches or any(b <= 0 for b in batches):
        raise InputError(f"--batch '{text}': batch sizes must be positive integers")
    return batches


def resolve_shapes(
    name: str,
    infos: Sequence[TensorInfo],
    spec: ModelSpec | None,
    shapes: Sequence[ShapeArg] = (),
    batch: int | None = None,
) -> dict[str, tuple[int, ...]]:
    """The concrete shape of every input, checked against static dims and the spec's profile."""
    given = {s.name: s for s in shapes}
    unknown = set(given) - {t.name for t in infos}
    if unknown:
        raise InputError(
            f"{name}: --shapes names {sorted(unknown)} are not inputs "
            f"(inputs: {[t.name for t in infos]})"
        )
    out = {}
    for info in infos:
        shape = _base_shape(name, info, spec, given.get(info.name))
        if batch is not None and shape:
            if not info.is_dynamic(0) and info.shape[0] != batch:
                raise InputError(
                    f"{name}: input '{info.name}' has a fixed batch of {info.shape[0]} "
                    f"(dims {list(info.shape)}); --batch {batch} cannot run on it; "
                    f"re-export with a dynamic batch axis"
                )
            shape = (batch, *shape[1:])
        _check_profile(name, info.name, shape, spec)
        out[info.name] = shape
    return out


def _base_shape(
    name: str, info: TensorInfo, spec: ModelSpec | None, arg: ShapeArg | None
) -> tuple[int, ...]:
    if arg is not None:
        if len(arg.shape) != len(info.shape):
            raise InputError(
                f"{name}: --shapes {info.name} has rank {len(arg.shape)}, "
                f"the input has dims {list(info.shape)}"
            )
        for axis, (want, got) in enumerate(zip(info.shape, arg.shape, strict=True)):
            if isinstance(want, int) and want != got:
                raise InputError(
                    f"{name}: --shapes {info.name} axis {axis} is {got}, the model fixes it "
                    f"at {want} (dims {list(info.shape)})"
                )
        return arg.shape
    if all(isinstance(d, int) for d in info.shape):
        return tuple(info.shape)
    if spec is not None and spec.profile is not None and info.name in spec.profile.opt:
        return tuple(spec.profile.opt[info.name])
    open_axes = [i for i, d in enumerate(info.shape) if not isinstance(d, int)]
    if open_axes == [0]:
        return (1, *info.shape[1:])  # only the batch axis is open: default to 1
    dynamic = [str(info.shape[i] or f"axis {i}") for i in open_axes]
    example = "x".join(str(d) if isinstance(d, int) else "N" for d in info.shape)
    raise InputError(
        f"{name}: input '{info.name}' has dynamic dims {dynamic} and no spec profile; "
        f"give --shapes {info.name}:{example} with numbers for N"
    )


def _check_profile(name: str, input_name: str, shape: tuple[int, ...], spec: ModelSpec | None):
    if spec is None or spec.profile is None or input_name not in spec.profile.min:
        return
    lo, hi = spec.profile.min[input_name], spec.profile.max[input_name]
    if len(lo) != len(shape):
        return
    if any(s < a or s > b for s, a, b in zip(shape, lo, hi, strict=True)):
        raise InputError(
            f"{name}: input '{input_name}' shape {list(shape)} is outside the model's profile "
            f"(min {lo}, max {hi}); pick --batch/--shapes inside it or rebuild with a wider one"
        )


def _is_image(info_shape: tuple[int, ...], layout: str) -> bool:
    if len(info_shape) != 4:
        return False
    channels = info_shape[1] if layout == "NCHW" else info_shape[3]
    return channels in (1, 3, 4)


def _vocab_size(spec: ModelSpec | None, input_name: str, n_int_inputs: int) -> int | None:
    if spec is None or not spec.labels:
        return None
    if input_name in spec.labels:
        return len(spec.labels[input_name])
    if len(spec.labels) == 1 and n_int_inputs == 1:
        return len(next(iter(spec.labels.values())))
    return None


def make_feeds(
    infos: Sequence[TensorInfo],
    shapes: dict[str, tuple[int, ...]],
    spec: ModelSpec | None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Random inputs of the resolved shapes with each input's dtype and value range."""
    rng = np.random.default_rng(seed)
    n_int = sum(np.issubdtype(np.dtype(t.dtype), np.integer) for t in infos)
    feeds = {}
    for info in infos:
        shape, dtype = shapes[info.name], np.dtype(info.dtype)
        if np.issubdtype(dtype, np.floating):
            image = spec.image if spec is not None else None
            if image is not None and _is_image(shape, image.layout):
                feeds[info.name] = _image_values(rng, shape, image).astype(dtype)
            else:
                feeds[info.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.uint8:
            feeds[info.name] = rng.integers(0, 256, shape, dtype=np.uint8)
        elif np.issubdtype(dtype, np.integer):
            vocab = _vocab_size(spec, info.name, n_int)
            feeds[info.name] = rng.integers(0, vocab or 1, shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[info.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feeds[info.name] = np.zeros(shape, dtype)
    return feeds


def _image_values(rng: np.random.Generator, shape: tuple[int, ...], image) -> np.ndarray:
    lo, hi = image.range
    values = rng.random(shape, dtype=np.float32) * (hi - lo) + lo
    axis = 1 if image.layout == "NCHW" else 3
    channels = shape[axis]
    if len(image.mean) == channels:
        view = [1] * 4
        view[axis] = channels
        mean = np.asarray(image.mean, np.float32).reshape(view)
        std = np.asarray(image.std, np.float32).reshape(view)
        values = (values - mean) / std
    return values

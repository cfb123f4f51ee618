"""Example inputs for any model, from its ModelSpec: one rule for shapes, one for values.

Export's calibration and parity checks, the runtime's ``auto`` trial and the
benchmarks all make inputs here, so a model is measured on the same kind of data
everywhere.

Shapes (``resolve_shapes``), per input, first match wins:
  1. a shape the caller gives (rank and fixed dims checked);
  2. the declared shape when every dim is fixed;
  3. the spec profile's ``opt`` shape;
  4. open dims filled: axis 0 (the batch) -> 1, every other open axis -> ``side``
     (default 64, a multiple of 8, 16 and 32, so strided nets divide evenly).
``batch`` then replaces axis 0, and a shape outside the spec's profile is refused.

Values (``example_inputs``):
  - a float image input (4-D, three channels on the convention's channel axis) gets
    pictures in the spec's image convention (mean/std spread per channel): uniform
    random pixels, synthetic product-like pictures, or given photos fitted to the size;
  - other floats are standard normal (latent codes are drawn that way);
  - integers lie in [0, high): ``high`` from the caller, else the spec's label
    vocabulary for that input (or the only vocabulary when there is one integer
    input), else 1 (zeros: a valid label, index or count in any model);
  - uint8 non-image inputs span 0..255; booleans are fair coins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ptx.errors import InputError
from ptx.image import fit
from ptx.spec import ImageConvention, ModelSpec
from ptx.tensors import NamedShape, Shape, format_shape

DEFAULT_SIDE = 64
PICTURE_KINDS = ("random", "pictures")


class TensorLike(Protocol):
    """Anything with a name, a dtype and a shape whose open dims are str or None."""

    name: str
    dtype: Any
    shape: Sequence[int | str | None]


def _fixed(d: object) -> bool:
    return isinstance(d, int | np.integer) and int(d) >= 0


def open_dims(t: TensorLike) -> list[int]:
    """Axes of ``t`` with no fixed size."""
    return [i for i, d in enumerate(t.shape) if not _fixed(d)]


def resolve_shapes(
    tensors: Sequence[TensorLike],
    spec: ModelSpec | None = None,
    given: Mapping[str, Sequence[int]] | Sequence[NamedShape] = (),
    batch: int | None = None,
    side: int = DEFAULT_SIDE,
    where: str = "model",
) -> dict[str, Shape]:
    """The concrete shape of every input under the module's rule (InputError when it cannot)."""
    if not isinstance(given, Mapping):
        given = {g.name: g.shape for g in given}
    names = [t.name for t in tensors]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InputError(f"{where}: shapes given for {unknown}, which are not inputs ({names})")
    opt = spec.profile.opt if spec is not None and spec.profile is not None else {}
    out: dict[str, Shape] = {}
    for t in tensors:
        if t.name in given:
            shape = _checked(t, tuple(int(d) for d in given[t.name]), where)
        elif not open_dims(t):
            shape = tuple(int(d) for d in t.shape)
        elif t.name in opt and len(opt[t.name]) == len(t.shape):
            shape = _checked(t, tuple(int(d) for d in opt[t.name]), where)
        else:
            shape = tuple(
                int(d) if _fixed(d) else (1 if i == 0 else side) for i, d in enumerate(t.shape)
            )
        if batch is not None and shape:
            if _fixed(t.shape[0]) and int(t.shape[0]) != batch:
                raise InputError(
                    f"{where}: input '{t.name}' has a fixed batch of {t.shape[0]} "
                    f"(dims {list(t.shape)}); batch {batch} cannot run on it; "
                    "re-export it with a dynamic batch axis"
                )
            shape = (batch, *shape[1:])
        check_profile(spec, t.name, shape, where)
        out[t.name] = shape
    return out


def defaulted(tensors: Sequence[TensorLike], spec: ModelSpec | None, given: Mapping) -> list[str]:
    """Inputs whose open dims rule 4 filled (no given shape, no spec profile): to tell the user."""
    opt = spec.profile.opt if spec is not None and spec.profile is not None else {}
    return [t.name for t in tensors if open_dims(t) and t.name not in given and t.name not in opt]


def _checked(t: TensorLike, shape: Shape, where: str) -> Shape:
    if len(shape) != len(t.shape):
        raise InputError(
            f"{where}: input '{t.name}' has rank {len(t.shape)} {list(t.shape)}, "
            f"the shape given is {format_shape(shape)}"
        )
    for axis, (want, got) in enumerate(zip(t.shape, shape, strict=True)):
        if _fixed(want) and int(want) != got:
            raise InputError(
                f"{where}: input '{t.name}' axis {axis} is {got}, the model fixes it at {want} "
                f"(dims {list(t.shape)})"
            )
    return shape


def check_profile(spec: ModelSpec | None, name: str, shape: Shape, where: str = "model") -> None:
    """InputError when ``shape`` lies outside the spec profile's min..max for input ``name``."""
    if spec is None or spec.profile is None or name not in spec.profile.min:
        return
    lo, hi = spec.profile.min[name], spec.profile.max[name]
    if len(lo) != len(shape):
        return
    if any(s < a or s > b for s, a, b in zip(shape, lo, hi, strict=True)):
        raise InputError(
            f"{where}: input '{name}' shape {list(shape)} is outside the model's profile "
            f"(min {lo}, max {hi}); pick a batch/shape inside it or rebuild with a wider one"
        )


def is_image(shape: Sequence[int], conv: ImageConvention) -> bool:
    """True for a 4-D shape with three channels on the convention's channel axis."""
    return len(shape) == 4 and shape[conv.channel_axis] == 3


def label_high(spec: ModelSpec | None, name: str, n_int_inputs: int) -> int | None:
    """The vocabulary size the spec gives integer input ``name`` (None when it gives none)."""
    if spec is None or not spec.labels:
        return None
    if spec.labels.get(name):
        return len(spec.labels[name])
    if len(spec.labels) == 1 and n_int_inputs == 1:
        return len(next(iter(spec.labels.values())))
    return None


def example_inputs(
    tensors: Sequence[TensorLike],
    spec: ModelSpec | None,
    shapes: Mapping[str, Sequence[int]],
    seed: int = 0,
    pictures: str | Sequence[np.ndarray] = "random",
    int_high: Mapping[str, int] | None = None,
    index: int = 0,
) -> dict[str, np.ndarray]:
    """One feed of the given shapes with values under the module's rule.

    ``pictures``: "random" (uniform pixels), "pictures" (synthetic product-like
    pictures), or uint8 RGB photos fitted to each image input's size; ``index``
    picks which pictures a feed starts from (calibration makes several feeds).
    """
    if isinstance(pictures, str) and pictures not in PICTURE_KINDS:
        raise InputError(f"pictures '{pictures}': use {', '.join(PICTURE_KINDS)} or photos")
    rng = np.random.default_rng([seed, index])
    conv = (spec.image if spec is not None else None) or ImageConvention()
    n_int = sum(np.dtype(t.dtype).kind in "iu" and np.dtype(t.dtype) != np.uint8 for t in tensors)
    feeds: dict[str, np.ndarray] = {}
    for t in tensors:
        shape, dt = tuple(shapes[t.name]), np.dtype(t.dtype)
        if dt.kind == "f" and is_image(shape, conv):
            feeds[t.name] = _images(rng, shape, conv, pictures, index).astype(dt)
        elif dt.kind == "f":
            feeds[t.name] = rng.standard_normal(shape).astype(dt)
        elif dt == np.uint8:
            feeds[t.name] = rng.integers(0, 256, shape, dtype=np.uint8)
        elif dt.kind in "iu":
            high = (int_high or {}).get(t.name) or label_high(spec, t.name, n_int) or 1
            feeds[t.name] = rng.integers(0, max(1, high), shape).astype(dt)
        elif dt == np.bool_:
            feeds[t.name] = rng.random(shape) < 0.5
        else:
            raise InputError(f"input '{t.name}': cannot make example data of dtype {dt}")
    return feeds


def _images(
    rng: np.random.Generator,
    shape: Shape,
    conv: ImageConvention,
    pictures: str | Sequence[np.ndarray],
    index: int,
) -> np.ndarray:
    n = shape[0]
    h, w = (shape[2], shape[3]) if conv.layout == "NCHW" else (shape[1], shape[2])
    if isinstance(pictures, str) and pictures == "random":
        unit = rng.random((n, h, w, 3), dtype=np.float32)
    elif isinstance(pictures, str):
        unit = np.stack([synthetic_picture(rng, index + b, h, w) for b in range(n)])
    else:
        k = index * n
        unit = np.stack(
            [fit(pictures[(k + b) % len(pictures)], h, w, "crop") / 255.0 for b in range(n)]
        )
    return conv.from_unit(unit)


def synthetic_picture(rng: np.random.Generator, k: int, h: int, w: int) -> np.ndarray:
    """A unit-range RGB HWC picture: product on white, flat black, gradient or noise (k % 4)."""
    kind = k % 4
    if kind == 0:  # the common product shot: a coloured blob on pure white
        img = np.ones((h, w, 3), np.float32)
        yy, xx = np.mgrid[:h, :w]
        blob = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (min(h, w) / 3) ** 2
        img[blob] = rng.uniform(0, 1, 3)
        return img
    if kind == 1:
        return np.zeros((h, w, 3), np.float32)
    if kind == 2:
        ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        return np.broadcast_to(ramp * rng.uniform(0.3, 1, 3).astype(np.float32), (h, w, 3)).copy()
    return rng.uniform(0, 1, (h, w, 3)).astype(np.float32)

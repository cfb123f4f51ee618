"""What the fused kernels are asked to do, as plain data, and their launch arguments.

``PreParams`` / ``PostParams`` describe one batch's geometry and numbers; they are
built from a ModelSpec ImageConvention and the profile's shape, used by the NumPy
reference (reference.py) and packed into the ``extern "C"`` argument lists of
preprocess.cu / postprocess.cu (``pre_args`` / ``post_args``, checked against the
compiled PTX signature in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ptx.errors import InputError
from ptx.image import (
    denormalise_constants,
    letterbox_geometry,
    normalise_constants,
    padded_size,
)
from ptx.spec import ImageConvention

BLOCK = (32, 8, 1)
ORDERS = ("RGB", "BGR")


@dataclass(frozen=True)
class PreParams:
    """uint8 N×H×W×3 → resize into (top, left, inner) of an out_h×out_w canvas → normalise."""

    src_hw: tuple[int, int]
    out_hw: tuple[int, int]
    top: int
    left: int
    inner_hw: tuple[int, int]
    reflect: bool  # pad by reflection (else constant ``fill``)
    fill: float
    scale: tuple[float, float, float]  # model channel order
    offset: tuple[float, float, float]
    swap_rb: bool
    layout: str  # NCHW or NHWC
    dtype: str  # float16 or float32

    def out_shape(self, n: int) -> tuple[int, ...]:
        """The model input batch shape for ``n`` images."""
        h, w = self.out_hw
        return (n, 3, h, w) if self.layout == "NCHW" else (n, h, w, 3)


@dataclass(frozen=True)
class PostParams:
    """Model output canvas → crop (top, left, inner) → resize to out_hw → uint8 HWC."""

    canvas_hw: tuple[int, int]
    top: int
    left: int
    inner_hw: tuple[int, int]
    out_hw: tuple[int, int]
    a: tuple[float, float, float]  # p = x * a + b, model channel order
    b: tuple[float, float, float]
    swap_rb: bool
    layout: str
    dtype: str

    def in_shape(self, n: int) -> tuple[int, ...]:
        """The model output batch shape this expects for ``n`` images."""
        h, w = self.canvas_hw
        return (n, 3, h, w) if self.layout == "NCHW" else (n, h, w, 3)


def _check(conv: ImageConvention, order: str, dtype: str, src_hw: tuple[int, int]) -> None:
    if order not in ORDERS:
        raise InputError(f"channel order '{order}': use RGB or BGR")
    if dtype not in ("float16", "float32"):
        raise InputError(f"kernel dtype '{dtype}': the kernels write float16 or float32")
    if conv.layout not in ("NCHW", "NHWC"):
        raise InputError(f"layout '{conv.layout}': use NCHW or NHWC")
    if min(src_hw) < 1:
        raise InputError(f"image size {src_hw[1]}x{src_hw[0]} is empty")


def _three(values: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in values.astype(np.float32))  # type: ignore[return-value]


def letterbox_params(
    src_hw: tuple[int, int],
    canvas_hw: tuple[int, int],
    conv: ImageConvention,
    order: str = "RGB",
    dtype: str = "float32",
    fill: float = 0.0,
) -> PreParams:
    """Fit the image in the canvas keeping aspect (imaging.letterbox_geometry), bars ``fill``."""
    _check(conv, order, dtype, src_hw)
    box = letterbox_geometry(*src_hw, *canvas_hw)
    scale, offset = normalise_constants(conv)
    return PreParams(
        src_hw=tuple(src_hw), out_hw=tuple(canvas_hw), top=box.top, left=box.left,
        inner_hw=box.inner, reflect=False, fill=float(fill), scale=_three(scale),
        offset=_three(offset), swap_rb=order != conv.channel_order, layout=conv.layout,
        dtype=dtype,
    )  # fmt: skip


def pad_params(
    src_hw: tuple[int, int],
    conv: ImageConvention,
    order: str = "RGB",
    dtype: str = "float32",
) -> PreParams:
    """No resize: reflect-pad bottom/right to ``conv.multiple_of`` (the CPU enhance path)."""
    _check(conv, order, dtype, src_hw)
    scale, offset = normalise_constants(conv)
    return PreParams(
        src_hw=tuple(src_hw), out_hw=padded_size(*src_hw, conv.multiple_of), top=0, left=0,
        inner_hw=tuple(src_hw), reflect=True, fill=0.0, scale=_three(scale),
        offset=_three(offset), swap_rb=order != conv.channel_order, layout=conv.layout,
        dtype=dtype,
    )  # fmt: skip


def inverse_params(
    pre: PreParams, conv: ImageConvention, order: str = "RGB", dtype: str | None = None
) -> PostParams:
    """The postprocessing that undoes ``pre``: crop its inner box, resize to the source size."""
    if order not in ORDERS:
        raise InputError(f"channel order '{order}': use RGB or BGR")
    a, b = denormalise_constants(conv)
    return PostParams(
        canvas_hw=pre.out_hw, top=pre.top, left=pre.left, inner_hw=pre.inner_hw,
        out_hw=pre.src_hw, a=_three(a), b=_three(b), swap_rb=order != conv.channel_order,
        layout=pre.layout, dtype=dtype or pre.dtype,
    )  # fmt: skip


def with_dtype(params: PreParams, dtype: str) -> PreParams:
    """A copy writing ``dtype`` (float16 or float32)."""
    if dtype not in ("float16", "float32"):
        raise InputError(f"kernel dtype '{dtype}': the kernels write float16 or float32")
    return replace(params, dtype=dtype)


MAX_GRID_YZ = 65535  # CUDA's limit on gridDim.y and gridDim.z


def grid(out_hw: tuple[int, int], n: int) -> tuple[int, int, int]:
    """Blocks for one thread per output pixel with BLOCK-sized blocks."""
    if n > MAX_GRID_YZ:
        raise InputError(f"batch {n} is over the {MAX_GRID_YZ} images one launch handles; split it")
    h, w = out_hw
    rows = -(-h // BLOCK[1])
    if rows > MAX_GRID_YZ:
        raise InputError(
            f"image height {h} is over the {MAX_GRID_YZ * BLOCK[1]} rows one launch handles; "
            "resize or tile it"
        )
    return (-(-w // BLOCK[0]), rows, n)


def check_box(
    canvas_hw: tuple[int, int], top: int, left: int, inner_hw: tuple[int, int], what: str
) -> None:
    """InputError unless the inner box is non-empty and lies inside the canvas."""
    (h, w), (ih, iw) = canvas_hw, inner_hw
    if min(h, w, ih, iw) < 1 or top < 0 or left < 0 or top + ih > h or left + iw > w:
        raise InputError(
            f"{what}: inner box {ih}x{iw} at ({top}, {left}) must be non-empty and inside "
            f"the {h}x{w} canvas"
        )


# Argument lists: (value, NumPy scalar type) in the .cu signature's order.
def pre_args(
    p: PreParams, src: int, image_stride: int, pitch: int, dst: int, n: int
) -> list[tuple[int | float, type]]:
    """ptx_preprocess's arguments for source/destination device pointers and ``n`` images."""
    i32, f32 = np.int32, np.float32
    return [
        (src, np.uint64), (image_stride, np.int64), (pitch, i32), (p.src_hw[0], i32),
        (p.src_hw[1], i32), (dst, np.uint64), (p.out_hw[0], i32), (p.out_hw[1], i32),
        (p.top, i32), (p.left, i32), (p.inner_hw[0], i32), (p.inner_hw[1], i32),
        (int(p.reflect), i32), (p.fill, f32), *((s, f32) for s in p.scale),
        *((o, f32) for o in p.offset), (int(p.swap_rb), i32), (int(p.layout == "NCHW"), i32),
        (int(p.dtype == "float16"), i32), (n, i32),
    ]  # fmt: skip


def post_args(
    p: PostParams, src: int, dst: int, image_stride: int, pitch: int, n: int
) -> list[tuple[int | float, type]]:
    """ptx_postprocess's arguments for source/destination device pointers and ``n`` images."""
    i32, f32 = np.int32, np.float32
    return [
        (src, np.uint64), (p.canvas_hw[0], i32), (p.canvas_hw[1], i32), (p.top, i32),
        (p.left, i32), (p.inner_hw[0], i32), (p.inner_hw[1], i32), (dst, np.uint64),
        (image_stride, np.int64), (pitch, i32), (p.out_hw[0], i32), (p.out_hw[1], i32),
        *((a, f32) for a in p.a), *((b, f32) for b in p.b), (int(p.swap_rb), i32),
        (int(p.layout == "NCHW"), i32), (int(p.dtype == "float16"), i32), (n, i32),
    ]  # fmt: skip

"""Launch the fused kernels on device arrays (torch, CuPy, ptx buffers), on a given stream."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ptx.errors import InputError
from ptx.runtime.cuda.api import use_device
from ptx.runtime.cuda.interop import DeviceArray, as_device_array, stream_handle
from ptx.runtime.cuda.module import Module
from ptx.runtime.kernels.compile import image_for
from ptx.runtime.kernels.params import (
    BLOCK,
    PostParams,
    PreParams,
    check_box,
    grid,
    post_args,
    pre_args,
)


def check_pre_arrays(src: DeviceArray, dst: DeviceArray, p: PreParams) -> int:
    """Batch size, after checking both arrays against ``p`` (one InputError line if not)."""
    check_box(p.out_hw, p.top, p.left, p.inner_hw, "preprocess")
    h, w = p.src_hw
    if src.dtype != np.uint8 or len(src.shape) != 4 or tuple(src.shape[1:]) != (h, w, 3):
        raise InputError(
            f"preprocess source must be uint8 [N, {h}, {w}, 3], got {src.dtype} {list(src.shape)}"
        )
    n = src.shape[0]
    want = p.out_shape(n)
    if dst.dtype != np.dtype(p.dtype) or tuple(dst.shape) != want:
        raise InputError(
            f"preprocess destination must be {p.dtype} {list(want)}, "
            f"got {dst.dtype} {list(dst.shape)}"
        )
    if dst.readonly:
        raise InputError("preprocess destination is read-only")
    return n


def check_post_arrays(src: DeviceArray, dst: DeviceArray, p: PostParams) -> int:
    """Batch size, after checking both arrays against ``p`` (one InputError line if not)."""
    check_box(p.canvas_hw, p.top, p.left, p.inner_hw, "postprocess")
    n = src.shape[0] if src.shape else 0
    want = p.in_shape(n)
    if src.dtype != np.dtype(p.dtype) or tuple(src.shape) != want:
        raise InputError(
            f"postprocess source must be {p.dtype} {list(want)}, got {src.dtype} {list(src.shape)}"
        )
    h, w = p.out_hw
    if dst.dtype != np.uint8 or tuple(dst.shape) != (n, h, w, 3):
        raise InputError(
            f"postprocess destination must be uint8 [{n}, {h}, {w}, 3], "
            f"got {dst.dtype} {list(dst.shape)}"
        )
    if dst.readonly:
        raise InputError("postprocess destination is read-only")
    return n


class Kernels:
    """preprocess.cu and postprocess.cu loaded for one GPU (cubin, else PTX)."""

    def __init__(self, capability: tuple[int, int]) -> None:
        self.pre = Module(image_for("preprocess", capability).image)
        self.post = Module(image_for("postprocess", capability).image)

    def preprocess(self, src: Any, dst: Any, p: PreParams, stream: Any = None) -> None:
        """uint8 N×H×W×3 ``src`` → model batch ``dst``, queued on ``stream``."""
        s, d = as_device_array(src, "preprocess source"), as_device_array(dst, "model input")
        n = check_pre_arrays(s, d, p)
        if n == 0:
            return
        h, w = p.src_hw
        args = pre_args(p, s.ptr, h * w * 3, w * 3, d.ptr, n)
        self.pre.launch(
            "ptx_preprocess", grid(p.out_hw, n), BLOCK, args, stream_handle(stream) or 0
        )

    def postprocess(self, src: Any, dst: Any, p: PostParams, stream: Any = None) -> None:
        """Model output ``src`` → uint8 N×h×w×3 ``dst``, queued on ``stream``."""
        s, d = as_device_array(src, "model output"), as_device_array(dst, "postprocess output")
        n = check_post_arrays(s, d, p)
        if n == 0:
            return
        h, w = p.out_hw
        args = post_args(p, s.ptr, d.ptr, h * w * 3, w * 3, n)
        self.post.launch(
            "ptx_postprocess", grid(p.out_hw, n), BLOCK, args, stream_handle(stream) or 0
        )


@lru_cache(maxsize=8)
def kernels_for(device: int = 0) -> Kernels:
    """The kernels loaded on GPU ``device`` (made current), once per process."""
    info = use_device(device)
    return Kernels(info.capability)

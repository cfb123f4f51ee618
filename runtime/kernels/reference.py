"""NumPy references of the fused kernels, built from ptx.image's functions.

They define the expected output of preprocess.cu / postprocess.cu: resize in float32
with no rounding in between (imaging.resize_bilinear on float input), then the
normalise / denormalise steps exactly as imaging.preprocess / imaging.postprocess.
"""

from __future__ import annotations

import numpy as np

from ptx.errors import InputError
from ptx.image import resize_bilinear, to_uint8
from ptx.runtime.kernels.params import PostParams, PreParams


def _pad_axis(arr: np.ndarray, axis: int, before: int, after: int) -> np.ndarray:
    """Reflect-pad one axis (numpy 'reflect'; a 1-pixel axis can only repeat)."""
    if before == 0 and after == 0:
        return arr
    widths = [(0, 0)] * arr.ndim
    widths[axis] = (before, after)
    return np.pad(arr, widths, mode="edge" if arr.shape[axis] == 1 else "reflect")


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """imaging.resize_bilinear in float32; the same size is the identity (NaN stays put)."""
    if img.shape[:2] == (h, w):
        return img.astype(np.float32)
    return resize_bilinear(np.ascontiguousarray(img, dtype=np.float32), h, w)


def _canvas(resized: np.ndarray, p: PreParams) -> np.ndarray:
    (h, w), (ih, iw) = p.out_hw, p.inner_hw
    if p.reflect:
        out = _pad_axis(resized, 0, p.top, h - p.top - ih)
        return _pad_axis(out, 1, p.left, w - p.left - iw)
    out = np.full((h, w, 3), np.float32(p.fill), dtype=np.float32)
    out[p.top : p.top + ih, p.left : p.left + iw] = resized
    return out


def preprocess_reference(batch: np.ndarray, p: PreParams) -> np.ndarray:
    """uint8 N×H×W×3 → the model batch ptx_preprocess writes for ``p``."""
    if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[3] != 3:
        raise InputError(f"preprocess needs uint8 NxHxWx3, got {batch.dtype} {list(batch.shape)}")
    if tuple(batch.shape[1:3]) != tuple(p.src_hw):
        raise InputError(f"images are {list(batch.shape[1:3])}, params say {list(p.src_hw)}")
    canvases = []
    for img in batch:
        resized = _resize(img, *p.inner_hw)
        canvases.append(_canvas(resized, p))
    out = np.stack(canvases)
    if p.swap_rb:
        out = out[..., ::-1]
    x = np.multiply(out, np.asarray(p.scale, dtype=np.float32), dtype=np.float32)
    x += np.asarray(p.offset, dtype=np.float32)
    if p.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x.astype(p.dtype))


def postprocess_reference(batch: np.ndarray, p: PostParams) -> np.ndarray:
    """A model output batch → the uint8 N×h×w×3 images ptx_postprocess writes for ``p``."""
    if tuple(batch.shape) != p.in_shape(batch.shape[0]):
        raise InputError(
            f"postprocess needs {list(p.in_shape(batch.shape[0]))}, got {list(batch.shape)}"
        )
    x = batch.astype(np.float32)
    if p.layout == "NCHW":
        x = x.transpose(0, 2, 3, 1)
    (ih, iw) = p.inner_hw
    images = []
    for canvas in x:
        inner = canvas[p.top : p.top + ih, p.left : p.left + iw]
        resized = _resize(inner, *p.out_hw)
        values = np.multiply(resized, np.asarray(p.a, dtype=np.float32), dtype=np.float32)
        values += np.asarray(p.b, dtype=np.float32)
        images.append(to_uint8(values))
    out = np.stack(images)
    return np.ascontiguousarray(out[..., ::-1] if p.swap_rb else out)

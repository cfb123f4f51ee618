"""The image convention in NumPy: the one implementation, and the GPU kernels' reference.

Training, export, the runtime, the server and the benchmarks turn pixels into model
tensors and back only through these functions (usually through ``ImageConvention``'s
methods, which call them); the GPU kernels must match them.

Exact semantics (a CUDA kernel reproduces them per pixel, in float32):

- Input images are uint8 HWC RGB (what ``ptx.io.read_image`` returns).
- Normalise: ``x = p * scale[c] + offset[c]`` in float32, where
  ``scale = (hi - lo) / (255 * std)`` and ``offset = (lo - mean) / std``; this is
  ``((p / 255) * (hi - lo) + lo - mean) / std`` of the ModelSpec, folded into one
  multiply-add. Channel ``c`` is in the model's order (BGR flips RGB first), then
  the batch is laid out NCHW or NHWC and cast to the requested dtype last.
- Denormalise: ``p = x * a[c] + b[c]`` in float32 with ``a = 255 * std / (hi - lo)``
  and ``b = 255 * (mean - lo) / (hi - lo)``, then ``fmin(fmax(p, 0), 255)`` (NaN → 0,
  as CUDA's fmaxf/fminf), then round half to even (CUDA ``rintf``) to uint8.
- Fitting an image to a fixed model size follows the convention's ``fit``: ``pad``
  (any size; reflect-pad to ``multiple_of``), ``crop`` (centre-crop to the target's
  aspect, then resize), ``letterbox`` (resize inside, bars filled) or ``stretch``.
- Padding to ``multiple_of`` is reflect (edge pixel not repeated, numpy "reflect")
  on the bottom and right only, so cropping back is a plain slice.
- Resize is separable, per axis: enlarging (or equal) is bilinear with half-pixel
  centres, ``src = (i + 0.5) * in / out - 0.5`` clamped to ``[0, in - 1]``; shrinking
  is the exact area average (each source pixel weighted by its overlap with the
  output pixel's footprint ``[i * in / out, (i + 1) * in / out)``). Rows first, then
  columns, accumulated in float32; uint8 results are clamped and rounded as above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ptx.errors import InputError, ModelError

if TYPE_CHECKING:  # ptx.spec imports this module; the convention is only a type here
    from ptx.spec import ImageConvention


# -- normalisation constants --------------------------------------------------------
def _per_channel(values: tuple[float, ...], what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 1:
        arr = np.repeat(arr, 3)
    if arr.shape != (3,):
        raise InputError(f"{what} needs 1 or 3 values, got {list(values)}")
    return arr


def normalise_constants(conv: ImageConvention) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset), float32 per channel in the model's channel order: x = p*scale + offset."""
    lo, hi = conv.range
    mean, std = _per_channel(conv.mean, "mean"), _per_channel(conv.std, "std")
    if hi == lo or np.any(std == 0):
        raise InputError(f"image convention needs hi != lo and std != 0, got {conv}")
    scale = (hi - lo) / (255.0 * std)
    offset = (lo - mean) / std
    return scale.astype(np.float32), offset.astype(np.float32)


def denormalise_constants(conv: ImageConvention) -> tuple[np.ndarray, np.ndarray]:
    """(a, b), float32 per channel in the model's channel order: p = x*a + b."""
    lo, hi = conv.range
    mean, std = _per_channel(conv.mean, "mean"), _per_channel(conv.std, "std")
    if hi == lo:
        raise InputError(f"image convention needs hi != lo, got range {conv.range}")
    a = 255.0 * std / (hi - lo)
    b = 255.0 * (mean - lo) / (hi - lo)
    return a.astype(np.float32), b.astype(np.float32)


def to_uint8(values: np.ndarray, inplace: bool = False) -> np.ndarray:
    """Clamp to [0, 255] (NaN → 0) and round half to even, as CUDA fmaxf/fminf/rintf.

    ``inplace`` (float32 ``values`` the caller owns) reuses ``values`` for the steps.
    """
    # np.clip is ~8x faster than np.fmax + np.fmin on float32 but keeps NaN, so NaN
    # (rare: one check) is zeroed apart; the bytes are fmax/fmin's.
    out = np.clip(values, np.float32(0), np.float32(255), out=values if inplace else None)
    np.rint(out, out=out)
    nan = np.isnan(out)
    if nan.any():
        out[nan] = 0
    return out.astype(np.uint8)


# -- padding ---------------------------------------------------------------------------
def padded_size(h: int, w: int, multiple_of: int) -> tuple[int, int]:
    """(H, W) rounded up to ``multiple_of``."""
    m = max(1, int(multiple_of))
    return -(-h // m) * m, -(-w // m) * m


def pad_to_multiple(batch: np.ndarray, multiple_of: int) -> np.ndarray:
    """Reflect-pad an N×H×W×C batch on the bottom and right up to ``multiple_of``."""
    n, h, w, c = batch.shape
    ph, pw = padded_size(h, w, multiple_of)
    if (ph, pw) == (h, w):
        return batch
    if h == 1 or w == 1:  # reflect needs two pixels; a 1-pixel axis can only repeat
        return np.pad(batch, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    return np.pad(batch, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="reflect")


# -- pre / post ------------------------------------------------------------------------
def stack_images(images: list[np.ndarray]) -> np.ndarray:
    """Stack same-size uint8 HWC RGB images into N×H×W×3, or raise InputError."""
    if not images:
        raise InputError("no images to process")
    first = images[0]
    for i, img in enumerate(images):
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise InputError(f"image {i}: expected uint8 HxWx3, got {img.dtype} {img.shape}")
        if img.shape != first.shape:
            raise InputError(
                f"image {i} is {img.shape[1]}x{img.shape[0]} but image 0 is "
                f"{first.shape[1]}x{first.shape[0]}: a batch needs one size (batch them apart)"
            )
    return np.stack(images) if len(images) > 1 else first[None]


def preprocess(
    images: list[np.ndarray], conv: ImageConvention, dtype: np.dtype | type = np.float32
) -> np.ndarray:
    """Same-size uint8 HWC RGB images → one model batch (padded to ``conv.multiple_of``)."""
    batch = pad_to_multiple(stack_images(images), conv.multiple_of)
    if conv.channel_order == "BGR":
        batch = batch[..., ::-1]
    scale, offset = normalise_constants(conv)
    if conv.layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
        scale, offset = scale[:, None, None], offset[:, None, None]
    out = np.empty(batch.shape, dtype=np.float32)
    np.multiply(batch, scale, out=out)  # the uint8 → float32 cast fuses into the multiply
    if np.any(offset) or np.any(scale < 0):  # p * scale >= +0.0 already: + 0.0 changes nothing
        out += offset
    return out if np.dtype(dtype) == np.float32 else out.astype(dtype)


def postprocess(
    batch: np.ndarray, conv: ImageConvention, size: tuple[int, int] | None = None
) -> list[np.ndarray]:
    """A model output batch → uint8 HWC RGB images, cropped to ``size`` (h, w) when given."""
    if batch.ndim != 4:
        raise ModelError(f"image output must be 4-D {conv.layout}, got shape {list(batch.shape)}")
    channels = batch.shape[1] if conv.layout == "NCHW" else batch.shape[3]
    if channels != 3:
        raise ModelError(
            f"image output needs 3 channels in {conv.layout}, got shape {list(batch.shape)}"
        )
    a, b = denormalise_constants(conv)
    # The float maths runs in the output's own (contiguous) layout, in place; only the
    # uint8 result is transposed to HWC: 3.5x less CPU on a 512x512 NCHW output.
    if conv.layout == "NCHW":
        a, b = a[:, None, None], b[:, None, None]
        if size is not None:
            batch = batch[:, :, : size[0], : size[1]]
    elif size is not None:
        batch = batch[:, : size[0], : size[1]]
    values = np.multiply(batch, a, dtype=np.float32)
    if np.any(b):  # adding 0.0 changes no pixel
        values += b
    pixels = to_uint8(values, inplace=True)
    if conv.layout == "NCHW":
        # Interleaving the three planes one at a time is 3.5x faster than NumPy's
        # generic copy of the transposed N x H x W x C view.
        order = (2, 1, 0) if conv.channel_order == "BGR" else (0, 1, 2)
        return [np.stack([p[c] for c in order], axis=-1) for p in pixels]
    if conv.channel_order == "BGR":
        pixels = pixels[..., ::-1]
    return [np.ascontiguousarray(p) for p in pixels]


# -- resize / letterbox ------------------------------------------------------------------
def resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """The (n_out, n_in) float32 matrix of one resize axis (bilinear up, area down)."""
    if n_in < 1 or n_out < 1:
        raise InputError(f"cannot resize {n_in} pixels to {n_out}")
    w = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    if n_out >= n_in:
        src = np.clip((rows + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1)
        i0 = np.floor(src).astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        frac = src - i0
        np.add.at(w, (rows, i0), 1.0 - frac)
        np.add.at(w, (rows, i1), frac)
    else:
        ratio = n_in / n_out
        lo, hi = rows * ratio, (rows + 1) * ratio
        cols = np.arange(n_in)
        overlap = np.minimum(hi[:, None], cols + 1.0) - np.maximum(lo[:, None], cols)
        w = np.clip(overlap, 0.0, None) / ratio
    return w.astype(np.float32)


def resize_bilinear(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize HWC (or HW) to h×w: bilinear when enlarging, area average when shrinking.

    uint8 in → uint8 out (clamped, rounded half to even); float in → float32 out.
    """
    if img.ndim not in (2, 3):
        raise InputError(f"resize needs HxW or HxWxC, got shape {img.shape}")
    src = img.astype(np.float32, copy=False)
    out = _resize_axis(src, resize_weights(img.shape[0], h), 0)  # h × W (× C)
    out = _resize_axis(out, resize_weights(img.shape[1], w), 1)  # h × w (× C)
    return to_uint8(out) if img.dtype == np.uint8 else out


def _taps(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, weight) of each output's few non-zero inputs, (n_out, K): K is 2 up, ~ratio down."""
    k = max(1, int((weights != 0).sum(axis=1).max()))
    # The first input of each row's band, then K in a row (clipped; a weight of 0 past the band).
    first = np.argmax(weights != 0, axis=1)
    idx = np.minimum(first[:, None] + np.arange(k), weights.shape[1] - 1)
    wt = np.take_along_axis(weights, idx, axis=1)
    wt[first[:, None] + np.arange(k) >= weights.shape[1]] = 0.0
    return idx, wt


def _resize_axis(src: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """``weights`` (n_out, n_in) applied along ``axis`` as a sum over its few taps.

    The same sums as a dense matrix product, at a few multiply-adds per output instead
    of n_in: a BLAS GEMM here cost ~40 ms for one 512-px photo and, multi-threaded from a
    server's worker thread on a busy machine, hundreds.
    """
    idx, wt = _taps(weights)
    shape = [1] * src.ndim
    shape[axis] = -1
    out = np.zeros(src.shape[:axis] + (len(idx),) + src.shape[axis + 1 :], np.float32)
    for k in range(idx.shape[1]):
        out += np.take(src, idx[:, k], axis=axis) * wt[:, k].reshape(shape)
    return out


@dataclass(frozen=True)
class Letterbox:
    """Where a resized image sits inside a fixed canvas (to undo it exactly)."""

    source: tuple[int, int]  # original (h, w)
    inner: tuple[int, int]  # resized (h, w), aspect kept
    top: int
    left: int
    canvas: tuple[int, int]  # (H, W)


def letterbox_geometry(h: int, w: int, canvas_h: int, canvas_w: int) -> Letterbox:
    """Fit h×w inside the canvas keeping aspect: scale = min ratio, size rounded, centred."""
    s = min(canvas_h / h, canvas_w / w)
    ih = min(canvas_h, max(1, int(np.floor(h * s + 0.5))))
    iw = min(canvas_w, max(1, int(np.floor(w * s + 0.5))))
    return Letterbox(
        (h, w), (ih, iw), (canvas_h - ih) // 2, (canvas_w - iw) // 2, (canvas_h, canvas_w)
    )


def letterbox(
    img: np.ndarray, canvas_h: int, canvas_w: int, fill: int = 0
) -> tuple[np.ndarray, Letterbox]:
    """Resize HWC into a canvas keeping aspect, bars filled with ``fill``; returns the geometry."""
    box = letterbox_geometry(img.shape[0], img.shape[1], canvas_h, canvas_w)
    inner = resize_bilinear(img, *box.inner)
    out = np.full((canvas_h, canvas_w, *img.shape[2:]), fill, dtype=inner.dtype)
    out[box.top : box.top + box.inner[0], box.left : box.left + box.inner[1]] = inner
    return out, box


def unletterbox(img: np.ndarray, box: Letterbox) -> np.ndarray:
    """Crop the image part of a letterboxed canvas and resize it back to the source size."""
    inner = img[box.top : box.top + box.inner[0], box.left : box.left + box.inner[1]]
    return resize_bilinear(inner, *box.source)


# -- fitting to a size, and contact sheets -------------------------------------------------
FIT_MODES = ("pad", "crop", "letterbox", "stretch")


def centre_crop(img: np.ndarray, aspect_h: int, aspect_w: int) -> np.ndarray:
    """The largest centred window of ``img`` with the aspect ratio aspect_h : aspect_w."""
    h, w = img.shape[:2]
    if h * aspect_w > w * aspect_h:  # too tall
        ch, cw = max(1, round(w * aspect_h / aspect_w)), w
    else:
        ch, cw = h, max(1, round(h * aspect_w / aspect_h))
    top, left = (h - ch) // 2, (w - cw) // 2
    return img[top : top + ch, left : left + cw]


def fit(img: np.ndarray, h: int, w: int, mode: str = "crop", fill: int = 0) -> np.ndarray:
    """``img`` (HWC uint8 or float) made exactly h x w by the convention's ``fit`` rule."""
    if mode not in FIT_MODES:
        raise InputError(f"unknown fit '{mode}' (use {', '.join(FIT_MODES)})")
    if h < 1 or w < 1:
        raise InputError(f"cannot fit an image to {h}x{w}")
    if img.shape[:2] == (h, w):
        return img
    if mode == "crop":
        return resize_bilinear(centre_crop(img, h, w), h, w)
    if mode == "letterbox":
        return letterbox(img, h, w, fill)[0]
    if mode == "stretch":
        return resize_bilinear(img, h, w)
    if img.shape[0] > h or img.shape[1] > w:
        raise InputError(f"fit 'pad' cannot shrink {img.shape[0]}x{img.shape[1]} to {h}x{w}")
    pad = ((0, h - img.shape[0]), (0, w - img.shape[1]), *[(0, 0)] * (img.ndim - 2))
    edge = img.shape[0] == 1 or img.shape[1] == 1
    return np.pad(img, pad, mode="edge" if edge else "reflect")


def grid(
    images: list[np.ndarray], ncol: int | None = None, pad: int = 2, fill: int = 255
) -> np.ndarray:
    """Same-size uint8 HWC images tiled ``ncol`` per row (default: near square), ``pad`` gutters.

    The sheet has a ``pad``-pixel border of ``fill`` on every side, as between tiles.
    """
    if not images:
        raise InputError("a grid needs at least one image")
    h, w = images[0].shape[:2]
    if any(im.shape[:2] != (h, w) for im in images):
        raise InputError("a grid needs images of one size (resize them first)")
    ncol = ncol or int(np.ceil(np.sqrt(len(images))))
    if ncol < 1:
        raise InputError(f"a grid needs at least one column, got {ncol}")
    nrow = -(-len(images) // ncol)
    channels = images[0].shape[2] if images[0].ndim == 3 else 3
    out = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, channels), fill, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = im if im.ndim == 3 else im[..., None]
    return out


def blend(img: np.ndarray, out: np.ndarray, strength: float) -> np.ndarray:
    """``img + strength * (out - img)`` as uint8 (rounded half up): how much of an edit to apply."""
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"strength must be in 0..1, got {strength}")
    if strength >= 1.0:
        return out
    x = img.astype(np.float32)
    return np.clip(x + strength * (out.astype(np.float32) - x) + 0.5, 0, 255).astype(np.uint8)

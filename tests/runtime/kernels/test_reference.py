"""The kernels' NumPy reference against Pillow / plain-NumPy ground truth (no GPU)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from ptx.errors import InputError
from ptx.image import postprocess, preprocess
from ptx.runtime.cuda.interop import DeviceArray
from ptx.runtime.kernels.ops import check_post_arrays, check_pre_arrays
from ptx.runtime.kernels.params import inverse_params, letterbox_params, pad_params
from ptx.runtime.kernels.reference import postprocess_reference, preprocess_reference
from ptx.spec import ImageConvention

RNG = np.random.default_rng(11)
IDENTITY = ImageConvention(range=(0.0, 255.0))  # x = p: resize results read off directly


def images(n: int, h: int, w: int) -> np.ndarray:
    return RNG.integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def pillow_resize(img: np.ndarray, h: int, w: int, kind) -> np.ndarray:
    """Per channel in Pillow's float mode (no rounding): BILINEAR up, BOX down."""
    chans = [Image.fromarray(img[..., c].astype(np.float32), mode="F") for c in range(3)]
    return np.stack([np.asarray(c.resize((w, h), kind)) for c in chans], axis=-1)


def exact_area(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area average by upsampling with repeats, then block means (float64)."""
    H, W = img.shape[:2]
    up = np.repeat(np.repeat(img.astype(np.float64), h, axis=0), w, axis=1)
    return up.reshape(h, H, w, W, 3).mean(axis=(1, 3))


@pytest.mark.parametrize(
    ("src", "dst"), [((24, 36), (48, 72)), ((20, 30), (57, 41)), ((64, 96), (16, 24))]
)
def test_resize_matches_pillow(src, dst):
    batch = images(2, *src)
    p = replace(letterbox_params(src, dst, IDENTITY), inner_hw=dst, top=0, left=0)  # stretch
    got = preprocess_reference(batch, p)
    kind = Image.BILINEAR if dst[0] >= src[0] else Image.BOX
    for i in range(2):
        want = pillow_resize(batch[i], *dst, kind).transpose(2, 0, 1)
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-3)


def test_shrink_by_a_fraction_is_the_exact_area_average():
    batch = images(1, 37, 53)
    p = letterbox_params((37, 53), (17, 23), IDENTITY, dtype="float32")
    got = preprocess_reference(batch, p)[0].transpose(1, 2, 0)
    box = p.inner_hw
    inner = got[p.top : p.top + box[0], p.left : p.left + box[1]]
    np.testing.assert_allclose(inner, exact_area(batch[0], *box), rtol=0, atol=2e-3)


def test_normalise_layout_and_channel_order_match_the_formula():
    conv = ImageConvention(
        layout="NCHW", channel_order="BGR", range=(-1.0, 1.0), mean=(0.1, 0.2, 0.3),
        std=(0.5, 0.6, 0.7),
    )  # fmt: skip
    batch = images(3, 8, 12)
    p = pad_params((8, 12), conv, order="RGB", dtype="float32")
    got = preprocess_reference(batch, p)
    bgr = batch[..., ::-1].astype(np.float64)
    want = ((bgr / 255) * 2 - 1 - np.array(conv.mean)) / np.array(conv.std)
    np.testing.assert_allclose(got, want.transpose(0, 3, 1, 2), rtol=0, atol=2e-6)
    nhwc = ImageConvention(layout="NHWC", channel_order="RGB", range=(0.0, 1.0))
    got = preprocess_reference(batch, pad_params((8, 12), nhwc, order="BGR", dtype="float16"))
    assert got.dtype == np.float16 and got.shape == (3, 8, 12, 3)
    np.testing.assert_allclose(got, (batch[..., ::-1] / 255).astype(np.float16), atol=0)


def test_reflect_padding_is_the_cpu_enhance_path_bit_for_bit():
    conv = ImageConvention(multiple_of=16, mean=(0.4,), std=(0.3,))
    batch = images(2, 21, 35)
    p = pad_params((21, 35), conv, dtype="float32")
    assert p.out_hw == (32, 48) and p.reflect
    np.testing.assert_array_equal(preprocess_reference(batch, p), preprocess(list(batch), conv))
    out = preprocess(list(batch), conv)
    back = postprocess_reference(out, inverse_params(p, conv))
    cpu = postprocess(out, conv, (21, 35))
    assert all(np.array_equal(a, b) for a, b in zip(back, cpu, strict=True))
    assert np.array_equal(back, batch)


def test_letterbox_bars_and_placement():
    batch = images(1, 30, 60)
    p = letterbox_params((30, 60), (64, 64), IDENTITY, fill=114.0)
    assert (p.inner_hw, p.top, p.left) == ((32, 64), 16, 0)
    got = preprocess_reference(batch, p)[0]
    assert np.all(got[:, :16] == 114) and np.all(got[:, 48:] == 114)
    want = pillow_resize(batch[0], 32, 64, Image.BILINEAR).transpose(2, 0, 1)
    np.testing.assert_allclose(got[:, 16:48], want, atol=1e-3)


def test_postprocess_undoes_a_letterbox_within_one_level():
    conv = ImageConvention(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    smooth = np.linspace(0, 255, 40 * 40 * 3).reshape(1, 40, 40, 3).astype(np.uint8)
    p = letterbox_params((40, 40), (80, 120), conv, dtype="float32")
    x = preprocess_reference(smooth, p)
    back = postprocess_reference(x, inverse_params(p, conv))
    assert back.shape == smooth.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - smooth).max() <= 1


def test_postprocess_clamps_and_maps_nan_to_zero():
    conv = ImageConvention()
    p = inverse_params(pad_params((2, 2), conv), conv)
    x = np.array([[[[-1.0, 2.0], [np.nan, 0.5]]] * 3], dtype=np.float32)
    out = postprocess_reference(x, p)[0, ..., 0]
    assert out.tolist() == [[0, 255], [0, 128]]  # 127.5 rounds half to even


def test_array_checks_are_one_line_each():
    p = letterbox_params((10, 20), (16, 16), IDENTITY, dtype="float16")
    src = DeviceArray(1, (2, 10, 20, 3), np.dtype(np.uint8))
    dst = DeviceArray(2, (2, 3, 16, 16), np.dtype(np.float16))
    assert check_pre_arrays(src, dst, p) == 2
    bad = [
        (DeviceArray(1, (2, 10, 21, 3), np.dtype(np.uint8)), dst, "uint8 [N, 10, 20, 3]"),
        (src, DeviceArray(2, (2, 3, 16, 16), np.dtype(np.float32)), "float16 [2, 3, 16, 16]"),
        (src, DeviceArray(2, (2, 3, 16, 16), np.dtype(np.float16), readonly=True), "read-only"),
    ]
    for s, d, text in bad:
        with pytest.raises(InputError, match=text.replace("[", r"\[")):
            check_pre_arrays(s, d, p)
    post = inverse_params(p, IDENTITY)
    assert check_post_arrays(dst, src, post) == 2
    with pytest.raises(InputError, match="uint8"):
        check_post_arrays(dst, DeviceArray(1, (2, 10, 20, 3), np.dtype(np.float32)), post)
    with pytest.raises(InputError, match="float16 or float32"):
        letterbox_params((10, 20), (16, 16), IDENTITY, dtype="int8")
    with pytest.raises(InputError, match="RGB or BGR"):
        pad_params((10, 20), IDENTITY, order="RGBA")

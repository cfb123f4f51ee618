"""NumPy pre/post-processing: exact round trips, ground truth for layout, resize, padding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ptx.errors import InputError, ModelError
from ptx.image import (
    fit,
    grid,
    letterbox,
    letterbox_geometry,
    pad_to_multiple,
    postprocess,
    preprocess,
    resize_bilinear,
    resize_weights,
    to_uint8,
)
from ptx.spec import ImageConvention

IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
CONVENTIONS = [
    ImageConvention(),
    ImageConvention(layout="NHWC", channel_order="BGR"),
    ImageConvention(range=(-1.0, 1.0)),
    ImageConvention(range=(0.0, 255.0), channel_order="BGR"),
    ImageConvention(**IMAGENET),
    ImageConvention(layout="NHWC", **IMAGENET),
]


def random_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A reproducible uint8 RGB test image."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _images(n=3, h=5, w=7):
    return [random_image(h, w, seed) for seed in range(n)]


@pytest.mark.parametrize("conv", CONVENTIONS, ids=lambda c: f"{c.layout}-{c.channel_order}")
def test_preprocess_matches_the_spec_formula(conv):
    images = _images()
    x = preprocess(images, conv)
    ref = np.stack(images).astype(np.float64)
    if conv.channel_order == "BGR":
        ref = ref[..., ::-1]
    lo, hi = conv.range
    ref = ((ref / 255.0) * (hi - lo) + lo - np.array(conv.mean)) / np.array(conv.std)
    if conv.layout == "NCHW":
        ref = ref.transpose(0, 3, 1, 2)
    assert x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("conv", CONVENTIONS, ids=lambda c: f"{c.layout}-{c.channel_order}")
def test_round_trip_is_exact(conv, dtype):
    images = _images() + [np.array([[[0, 128, 255]]], np.uint8).repeat(5, 0).repeat(7, 1)]
    x = preprocess(images, conv, dtype=dtype)
    assert x.dtype == dtype
    for got, want in zip(postprocess(x, conv), images, strict=True):
        np.testing.assert_array_equal(got, want)


def test_layout_against_pillow_channels():
    img = random_image(4, 6, 9)
    r, g, b = (np.asarray(c) for c in Image.fromarray(img).split())
    x = preprocess([img], ImageConvention(channel_order="BGR", range=(0.0, 255.0)))
    np.testing.assert_array_equal(x[0], np.stack([b, g, r]).astype(np.float32))
    y = preprocess([img], ImageConvention(layout="NHWC", range=(0.0, 255.0)))
    np.testing.assert_array_equal(y[0], img.astype(np.float32))


def test_postprocess_clamps_rounds_half_even_and_maps_nan_to_zero():
    values = np.array([-3.0, 0.4, 0.5, 1.5, 2.5, 254.5, 300.0, np.nan], np.float32)
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 0, 2, 2, 254, 255, 0])
    batch = np.full((1, 3, 2, 2), 2.0, np.float32)  # above the 0..1 range
    batch[0, 1] = -1.0
    (img,) = postprocess(batch, ImageConvention())
    assert img.shape == (2, 2, 3) and img.dtype == np.uint8
    assert (img[..., 0] == 255).all() and (img[..., 1] == 0).all()


@pytest.mark.parametrize("conv", CONVENTIONS, ids=lambda c: f"{c.layout}-{c.channel_order}")
def test_postprocess_matches_the_spec_formula_on_any_float(conv):
    # The fast path (np.clip, a NaN pass, plane-wise interleave, no + 0.0) must give the
    # bytes of the documented formula: x * a + b, fmin(fmax(p, 0), 255), rint.
    from ptx.image import denormalise_constants

    rng = np.random.default_rng(3)
    shape = (2, 3, 9, 11) if conv.layout == "NCHW" else (2, 9, 11, 3)
    y = rng.normal(0.5, 1.5, shape).astype(np.float32)
    special = [np.nan, np.inf, -np.inf, -0.0, 0.5 / 255, 1.5 / 255, 254.5 / 255, 1e30]
    y.reshape(-1)[: len(special) * 8 : 8] = special
    a, b = denormalise_constants(conv)
    p = np.moveaxis(y, 1, -1) if conv.layout == "NCHW" else y
    p = np.fmin(np.fmax(p * a + b, np.float32(0)), np.float32(255))
    want = np.rint(p).astype(np.uint8)
    if conv.channel_order == "BGR":
        want = want[..., ::-1]
    got = postprocess(y, conv)
    for g, w in zip(got, want, strict=True):
        assert g.flags.c_contiguous and g.dtype == np.uint8
        np.testing.assert_array_equal(g, w)
    edges = np.arange(-2, 258, 0.25, dtype=np.float32)
    ref = np.rint(np.fmin(np.fmax(edges, np.float32(0)), np.float32(255))).astype(np.uint8)
    np.testing.assert_array_equal(to_uint8(edges.copy(), inplace=True), ref)


def test_postprocess_rejects_non_images():
    with pytest.raises(ModelError, match="needs 3 channels"):
        postprocess(np.zeros((1, 4, 2, 2), np.float32), ImageConvention())
    with pytest.raises(ModelError, match="4-D"):
        postprocess(np.zeros((3, 2, 2), np.float32), ImageConvention())


def test_mixed_sizes_and_bad_arrays_are_refused():
    with pytest.raises(InputError, match="image 1 is 5x4 but image 0 is 7x5"):
        preprocess([random_image(5, 7), random_image(4, 5)], ImageConvention())
    with pytest.raises(InputError, match="expected uint8 HxWx3"):
        preprocess([np.zeros((4, 4, 3), np.float32)], ImageConvention())
    with pytest.raises(InputError, match="no images"):
        preprocess([], ImageConvention())


def test_padding_reflects_and_crops_back():
    img = random_image(5, 6, 3)
    padded = pad_to_multiple(img[None], 4)[0]
    assert padded.shape == (8, 8, 3)
    np.testing.assert_array_equal(padded[:5, :6], img)
    np.testing.assert_array_equal(padded[5, :6], img[3])  # row 5 mirrors row 3 (edge not repeated)
    np.testing.assert_array_equal(padded[:5, 6], img[:, 4])
    conv = ImageConvention(multiple_of=4)
    x = preprocess([img], conv)
    assert x.shape == (1, 3, 8, 8)
    np.testing.assert_array_equal(postprocess(x, conv, size=(5, 6))[0], img)
    thin = pad_to_multiple(random_image(1, 3)[None], 4)  # 1-pixel axis: repeated
    assert thin.shape == (1, 4, 4, 3)


def test_resize_up_matches_pillow_bilinear():
    img = random_image(7, 9, 4)
    ours = resize_bilinear(img, 17, 20)
    pil = np.asarray(Image.fromarray(img).resize((20, 17), Image.Resampling.BILINEAR))
    assert ours.shape == pil.shape and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - pil).max() <= 1  # Pillow uses fixed-point weights


def test_resize_integer_shrink_matches_pillow_box():
    img = random_image(12, 18, 5)
    ours = resize_bilinear(img, 4, 6)
    pil = np.asarray(Image.fromarray(img).resize((6, 4), Image.Resampling.BOX))
    assert np.abs(ours.astype(int) - pil).max() <= 1
    block_mean = img.reshape(4, 3, 6, 3, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_allclose(resize_bilinear(img.astype(np.float32), 4, 6), block_mean, atol=1e-3)


def test_resize_fractional_shrink_is_exact_area_average():
    img = random_image(7, 5, 6).astype(np.float32)
    h, w = 3, 2
    # Ground truth: replicate each pixel out-times, then average in-sized blocks.
    fine = img.repeat(h, axis=0).repeat(w, axis=1).astype(np.float64)
    ref = fine.reshape(h, 7, w, 5, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(resize_bilinear(img, h, w), ref, atol=1e-3)
    assert np.allclose(resize_weights(7, 3).sum(axis=1), 1.0)
    assert np.allclose(resize_weights(3, 7).sum(axis=1), 1.0)


def test_resize_identity_and_mixed_axes():
    img = random_image(6, 8, 7)
    np.testing.assert_array_equal(resize_bilinear(img, 6, 8), img)
    out = resize_bilinear(img, 3, 16)  # shrink rows (area), enlarge columns (bilinear)
    rows = img.reshape(3, 2, 8, 3).astype(np.float64).mean(axis=1)
    cols = np.asarray(
        Image.fromarray(rows.astype(np.float32)[..., 0], mode="F").resize(
            (16, 3), Image.Resampling.BILINEAR
        )
    )
    np.testing.assert_allclose(out[..., 0], cols, atol=1.0)


def test_letterbox_geometry_and_undo():
    box = letterbox_geometry(50, 100, 64, 64)
    assert box.inner == (32, 64) and (box.top, box.left) == (16, 0)
    flat = np.full((50, 100, 3), 77, np.uint8)
    canvas, box = letterbox(flat, 64, 64, fill=0)
    assert canvas.shape == (64, 64, 3)
    assert (canvas[:16] == 0).all() and (canvas[48:] == 0).all() and (canvas[16:48] == 77).all()
    from ptx.image import unletterbox

    np.testing.assert_array_equal(unletterbox(canvas, box), flat)


def test_fit_modes() -> None:
    img = random_image(40, 60, 3)
    crop = fit(img, 20, 20, "crop")
    np.testing.assert_array_equal(crop, resize_bilinear(img[:, 10:50], 20, 20))
    assert fit(img, 10, 30, "stretch").shape == (10, 30, 3)
    box = fit(img, 30, 30, "letterbox")
    assert box.shape == (30, 30, 3) and not box[0].any() and box[15].any()
    padded = fit(img, 42, 64, "pad")
    np.testing.assert_array_equal(padded[:40, :60], img)
    np.testing.assert_array_equal(padded[40, :60], img[38])  # reflect: the edge row is not repeated
    assert fit(img, 40, 60, "crop") is img
    with pytest.raises(InputError, match="cannot shrink"):
        fit(img, 20, 20, "pad")
    with pytest.raises(InputError, match="unknown fit"):
        fit(img, 20, 20, "squash")


def test_grid_tiles_in_order_with_gutters() -> None:
    tiles = [np.full((4, 5, 3), v, np.uint8) for v in (10, 20, 30)]
    sheet = grid(tiles, ncol=2, pad=1)
    assert sheet.shape == (2 * 5 + 1, 2 * 6 + 1, 3)
    assert sheet[1, 1, 0] == 10 and sheet[1, 7, 0] == 20 and sheet[6, 1, 0] == 30
    assert sheet[0, 0, 0] == 255 and sheet[6, 7, 0] == 255  # gutter and the empty cell
    assert grid(tiles[:1] * 4).shape == (2 * 6 + 2, 2 * 7 + 2, 3)  # near-square by default
    with pytest.raises(InputError, match="one size"):
        grid([tiles[0], np.zeros((3, 3, 3), np.uint8)])
    with pytest.raises(InputError, match="at least one image"):
        grid([])


@pytest.mark.parametrize(
    ("shape", "size"),
    [
        ((512, 384, 3), (300, 301)),
        ((37, 53), (100, 20)),
        ((7, 3, 1), (3, 7)),
        ((9, 900, 3), (1, 13)),
    ],
)
def test_resize_is_the_dense_weight_product(shape, size) -> None:
    """The tap sums equal the dense (n_out, n_in) matrix products they replace."""
    img = np.random.default_rng(1).random(shape, dtype=np.float32) * 255
    dense = np.tensordot(resize_weights(shape[0], size[0]), img, axes=(1, 0))
    dense = np.moveaxis(np.tensordot(resize_weights(shape[1], size[1]), dense, axes=(1, 1)), 0, 1)
    np.testing.assert_allclose(resize_bilinear(img, *size), dense, rtol=0, atol=2e-4)

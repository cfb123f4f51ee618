"""Transparency through an edit: read with the decode, given back (un-composited) on write."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ptx.alpha import alpha_of, uncomposite
from ptx.io import decode_image, decode_image_alpha, encode_image


def _cutout(h: int = 40, w: int = 60) -> np.ndarray:
    """A red-orange product with a soft edge on a transparent background storing black."""
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = (200, 60, 30)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    rgba[..., 3] = np.clip((15 - r) * 40, 0, 255).astype(np.uint8)  # 0 outside, ramp, 255 inside
    rgba[rgba[..., 3] == 0, :3] = 0
    return rgba


def _png(arr: np.ndarray, mode: str | None = None, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG", **kw)
    return buf.getvalue()


def test_decode_composites_on_white_and_hands_the_alpha_over():
    rgba = _cutout()
    rgb, alpha = decode_image_alpha(_png(rgba))
    np.testing.assert_array_equal(alpha, rgba[..., 3])
    assert (rgb[alpha == 0] == 255).all()  # the stored black never shows
    np.testing.assert_array_equal(rgb, decode_image(_png(rgba)))


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_a_cut_out_round_trips_with_no_white_fringe(fmt):
    rgba = _cutout()
    rgb, alpha = decode_image_alpha(_png(rgba))
    data = encode_image(rgb, fmt, alpha=alpha)
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGBA"
        back = np.asarray(img)
    np.testing.assert_array_equal(back[..., 3], alpha)
    edge = (alpha >= 64) & (alpha < 255)  # soft edge: composited halfway to white on decode
    assert edge.sum() > 50
    # taken off the white again: the product's colour, not a pale fringe
    err = np.abs(back[edge][:, :3].astype(int) - (200, 60, 30)).max()
    assert err <= (3 if fmt != "WEBP" else 8), err  # composited on white: ~100 levels off


def test_jpeg_and_bmp_outputs_stay_composited_on_white():
    rgb, alpha = decode_image_alpha(_png(_cutout()))
    for fmt in ("JPEG", "BMP"):
        with Image.open(io.BytesIO(encode_image(rgb, fmt, alpha=alpha))) as img:
            assert img.mode == "RGB"


def test_opaque_and_plain_images_have_no_alpha():
    opaque = np.full((8, 8, 4), 255, np.uint8)
    assert decode_image_alpha(_png(opaque))[1] is None
    assert decode_image_alpha(_png(np.zeros((8, 8, 3), np.uint8)))[1] is None


def test_palette_transparency_and_grey_alpha_are_read():
    pal = Image.new("P", (10, 10), 0)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    pal.paste(1, (2, 2, 8, 8))
    buf = io.BytesIO()
    pal.save(buf, format="PNG", transparency=0)
    rgb, alpha = decode_image_alpha(buf.getvalue())
    assert alpha[0, 0] == 0 and alpha[5, 5] == 255 and tuple(rgb[5, 5]) == (10, 200, 30)
    la = np.zeros((6, 6, 2), np.uint8)
    la[..., 0], la[2:4, 2:4, 1] = 90, 255
    assert alpha_of(Image.fromarray(la, "LA")).sum() == 4 * 255


def test_uncomposite_inverts_compositing_on_white():
    rng = np.random.default_rng(0)
    fg = rng.integers(0, 256, (32, 32, 3)).astype(np.float64)
    a = rng.integers(1, 256, (32, 32)).astype(np.float64)
    on_white = np.rint(fg * a[..., None] / 255 + 255 * (1 - a[..., None] / 255)).astype(np.uint8)
    back = uncomposite(on_white, a.astype(np.uint8)).astype(np.float64)
    # rounding on decode is amplified by 1/a, but never shows: a * error is at most a level
    assert (np.abs(back - fg) * a[..., None] / 255).max() <= 1.0
    with pytest.raises(ValueError, match="does not match"):
        encode_image(on_white, "PNG", alpha=np.zeros((3, 3), np.uint8))

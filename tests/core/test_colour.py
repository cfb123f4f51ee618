"""Colour management on decode: tagged photos become sRGB pixels; sRGB and untagged stay as is."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from ptx.benchmarks.harness.icc_profiles import matrix_profile
from ptx.colour import ProfileWarning, acts_as_srgb
from ptx.io import decode_image


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 100.0 if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _skimage_file(name: str) -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / name


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo with saturated colours (scikit-image's coffee), 200 px wide."""
    img = Image.open(_skimage_file("coffee.png")).convert("RGB")
    return np.asarray(img.resize((200, 133), Image.Resampling.LANCZOS))


def _encode_in(rgb: np.ndarray, icc: bytes, fmt: str, mode: str = "RGB") -> bytes:
    """``rgb`` (sRGB) converted into the profile ``icc`` and saved tagged with it."""
    to_profile = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(icc)), "RGB", "RGB"
    )
    img = ImageCms.applyTransform(Image.fromarray(rgb), to_profile).convert(mode)
    buf = io.BytesIO()
    extra = {"JPEG": {"quality": 100, "subsampling": 0}, "WEBP": {"lossless": True}}
    img.save(buf, format=fmt, icc_profile=icc, **extra.get(fmt, {}))
    return buf.getvalue()


def _raw(data: bytes) -> np.ndarray:
    """The stored values, profile ignored (what ptx decoded before colour management)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
@pytest.mark.parametrize("space", ["display-p3", "adobe-rgb"])
def test_a_wide_gamut_photo_decodes_to_what_its_viewer_sees(photo, fmt, space):
    data = _encode_in(photo, matrix_profile(space), fmt)
    # the stored values are far from the photo: reading them as sRGB is the harm
    assert _psnr(_raw(data), photo) < 35
    assert _psnr(decode_image(data, "p.img"), photo) > 44


def test_transparency_survives_and_its_colours_are_converted(photo):
    icc = matrix_profile("display-p3")
    opaque = Image.open(io.BytesIO(_encode_in(photo, icc, "PNG"))).convert("RGBA")
    alpha = np.zeros(photo.shape[:2], np.uint8)
    alpha[:, 100:] = 255  # left half transparent: composited on white by the decode
    opaque.putalpha(Image.fromarray(alpha))
    buf = io.BytesIO()
    opaque.save(buf, format="PNG", icc_profile=icc)
    out = decode_image(buf.getvalue(), "cut.png")
    assert (out[:, :100] == 255).all()
    assert _psnr(out[:, 100:], photo[:, 100:]) > 44


def test_srgb_tagged_photos_are_bit_identical_and_skip_the_transform(photo):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG", icc_profile=srgb)
    assert acts_as_srgb(srgb, "RGB")
    np.testing.assert_array_equal(decode_image(buf.getvalue()), photo)
    # scikit-image's chelsea ships tagged with a (3 kB) sRGB profile of its own
    data = _skimage_file("chelsea.png").read_bytes()
    assert Image.open(io.BytesIO(data)).info.get("icc_profile")
    np.testing.assert_array_equal(decode_image(data), _raw(data))


def test_a_real_adobe_rgb_photo_matches_an_independently_built_profile():
    """scikit-image's rocket.jpg is tagged Adobe RGB (1998): converted, as a hand-built one."""
    data = _skimage_file("rocket.jpg").read_bytes()
    raw = _raw(data)
    ours = decode_image(data, "rocket.jpg")
    assert np.abs(ours.astype(int) - raw).mean() > 2  # the profile was applied
    buf = io.BytesIO()
    Image.fromarray(raw).save(buf, format="PNG", icc_profile=matrix_profile("adobe-rgb", 563 / 256))
    assert _psnr(ours, decode_image(buf.getvalue())) > 45


def test_a_grey_photo_with_a_grey_profile_stays_neutral():
    data = _skimage_file("page.png").read_bytes()  # tagged "Dot Gain 20%" (a grey profile)
    raw = _raw(data)
    out = decode_image(data, "page.png").astype(int)
    assert np.abs(out - out[..., 1:2]).max() <= 1  # R = G = B
    assert not np.array_equal(out, raw)  # dot gain: the stored greys are not the sRGB ones


@pytest.mark.parametrize(
    "icc", [b"not a profile at all" * 8, matrix_profile("display-p3")[:200]], ids=["junk", "cut"]
)
def test_an_unusable_profile_is_one_warning_and_the_values_as_stored(photo, icc):
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG", icc_profile=icc)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = decode_image(buf.getvalue(), "shop/p.png")
    lines = [str(w.message) for w in caught if issubclass(w.category, ProfileWarning)]
    assert len(lines) == 1 and lines[0].startswith("shop/p.png: embedded ICC profile ignored")
    np.testing.assert_array_equal(out, photo)


def test_a_profile_of_the_wrong_colour_space_is_ignored_with_a_warning(photo):
    grey = _skimage_file("page.png")
    icc = Image.open(grey).info["icc_profile"]  # a grey profile on RGB pixels
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG", icc_profile=icc)
    with pytest.warns(ProfileWarning, match="embedded ICC profile ignored"):
        out = decode_image(buf.getvalue(), "p.png")
    np.testing.assert_array_equal(out, photo)


def test_profile_verdicts_are_kept_by_digest_and_bounded():
    """A server must not keep request-sized profiles alive: 32-byte keys, at most 64 of them."""
    from ptx import colour

    for i in range(70):
        assert not acts_as_srgb(matrix_profile("adobe-rgb", 1.8 + i / 100), "RGB")
    assert len(colour._SEEN) <= 64 and all(len(k) == 32 for k in colour._SEEN)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert acts_as_srgb(srgb, "RGB") and acts_as_srgb(srgb, "RGBA")

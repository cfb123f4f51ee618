"""A JPEG output of a JPEG input keeps its quantization tables and chroma subsampling."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from ptx.io import decode_image, encode_for, encode_image, jpeg_tables


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 100.0 if mse == 0 else float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo with sharp colour edges (matplotlib's gift box)."""
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("Minduka_Present_Blue_Pack.png") as f:
        img = Image.open(f).convert("RGB")
    return np.asarray(img.resize((256, 256), Image.Resampling.LANCZOS))


def _jpeg(rgb: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", **kw)
    return buf.getvalue()


def test_an_untouched_studio_jpeg_is_rewritten_at_its_own_quality(photo):
    src = _jpeg(photo, quality=95, subsampling=0)  # 4:4:4, as studios export
    pixels = decode_image(src)
    tables = jpeg_tables(src)
    assert tables is not None and tables.subsampling == 0
    kept = encode_image(pixels, "JPEG", tables=tables)
    fixed = encode_image(pixels, "JPEG")  # quality 95, 4:2:0: what was written before
    assert _psnr(decode_image(kept), pixels) > 45
    assert _psnr(decode_image(fixed), pixels) < 40  # the chroma of the edges, lost
    with Image.open(io.BytesIO(kept)) as out, Image.open(io.BytesIO(src)) as inp:
        assert out.quantization == inp.quantization
        assert JpegImagePlugin.get_sampling(out) == 0


def test_a_low_quality_jpeg_does_not_grow(photo):
    src = _jpeg(photo, quality=75)
    pixels = decode_image(src)
    kept = encode_for("out.jpg", pixels, source=src)
    assert 0.9 < len(kept) / len(src) < 1.1
    assert len(encode_for("out.jpg", pixels)) > 1.4 * len(src)  # fixed quality 95 grew it


def test_other_sources_and_outputs_use_the_default(photo, tmp_path):
    png = tmp_path / "p.png"
    Image.fromarray(photo).save(png)
    grey = _jpeg(photo[..., 0])
    for source in (png, grey, b"not an image", None, tmp_path / "missing.jpg"):
        assert jpeg_tables(source) is None
        assert encode_for("o.jpg", photo, source=source) == encode_image(photo, "JPEG")
    src = _jpeg(photo, quality=60)
    assert encode_for("o.png", photo, source=src) == encode_image(photo, "PNG")

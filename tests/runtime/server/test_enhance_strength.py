"""/v1/models/{name}/enhance?strength=: how much of the edit comes back, validated 0..1."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from ptx.image import blend
from ptx.io import decode_image, encode_image


@pytest.fixture(scope="module")
def http(model_files, srv):
    server = srv.start(model_files)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
    server.stop()


def test_strength_blends_the_edit(http, helpers):
    img = helpers.random_image(17, 23, seed=9)
    body = encode_image(img, "PNG")
    full = helpers.expected_affine(img)
    none = http.post("/v1/models/affine/enhance", params={"strength": "0"}, content=body)
    assert none.status_code == 200
    np.testing.assert_array_equal(decode_image(none.content), img)
    half = http.post("/v1/models/affine/enhance", params={"strength": "0.5"}, content=body)
    assert half.status_code == 200
    got = decode_image(half.content)
    np.testing.assert_array_equal(got, blend(img, full, 0.5))
    assert not np.array_equal(got, full) and not np.array_equal(got, img)
    one = http.post("/v1/models/affine/enhance", params={"strength": "1"}, content=body)
    np.testing.assert_array_equal(decode_image(one.content), full)


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "abc", "nan", ""])
def test_bad_strength_is_one_400_line(http, helpers, bad):
    body = encode_image(helpers.random_image(8, 8, seed=1), "PNG")
    r = http.post("/v1/models/affine/enhance", params={"strength": bad}, content=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error.startswith("strength must be a number in 0..1") and "\n" not in error


@pytest.mark.parametrize("strength", ["0", "1"])
def test_a_cut_out_comes_back_with_its_alpha_as_png_and_on_white_as_jpeg(http, strength):
    """Both decode paths (kept for a blend, straight to the model) hand the alpha over."""
    import io

    from PIL import Image

    alpha = np.zeros((16, 20), np.uint8)
    alpha[4:12, 5:15], alpha[3, 5:15] = 255, 120
    buf = io.BytesIO()
    Image.fromarray(np.dstack([np.full((16, 20, 3), 70, np.uint8), alpha]), "RGBA").save(
        buf, format="PNG"
    )
    url, params = "/v1/models/affine/enhance", {"strength": strength}
    png = http.post(url, params=params, content=buf.getvalue())
    assert png.status_code == 200
    with Image.open(io.BytesIO(png.content)) as img:
        assert img.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(img)[..., 3], alpha)
    jpg = http.post(url, params=params, content=buf.getvalue(), headers={"accept": "image/jpeg"})
    with Image.open(io.BytesIO(jpg.content)) as img:
        assert img.format == "JPEG" and img.mode == "RGB"


def test_a_jpeg_answer_to_a_jpeg_request_keeps_its_tables(http, helpers):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(helpers.random_image(24, 32, seed=4)).save(buf, format="JPEG", quality=55)
    for strength in ("0", "1"):
        r = http.post("/v1/models/affine/enhance", params={"strength": strength},
                      content=buf.getvalue(), headers={"accept": "image/jpeg"})  # fmt: skip
        assert r.status_code == 200
        with Image.open(io.BytesIO(r.content)) as a, Image.open(buf) as b:
            assert a.quantization == b.quantization

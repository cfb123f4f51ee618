"""POST /v1/models/{name}/cutout: the photo back as an RGBA PNG with the model's alpha."""

from __future__ import annotations

import io

import httpx
import numpy as np
from PIL import Image

from ptx.io import encode_image
from ptx.runtime.pipelines.cutout import cutout_alpha
from tests.runtime.pipelines.test_cutout import cutout_model


def _photo() -> np.ndarray:
    rgb = np.full((90, 120, 3), 30, np.uint8)
    rgb[20:70, 30:90] = 230  # the bright "product"
    return rgb


def test_cutout_route_returns_the_photo_with_the_models_alpha(tmp_path, model_files, srv):
    cut = cutout_model(tmp_path / "cut.onnx")
    server = srv.start({"cut": cut, "affine": model_files["affine"]})
    try:
        rgb = _photo()
        r = httpx.post(
            server.url + "/v1/models/cut/cutout", content=encode_image(rgb, "PNG"), timeout=30
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        rgba = np.asarray(Image.open(io.BytesIO(r.content)))
        assert rgba.shape == (90, 120, 4)
        np.testing.assert_array_equal(rgba[..., :3], rgb)  # the pixels themselves untouched
        want = np.clip(cutout_alpha(cut, [rgb])[0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
        assert np.abs(rgba[..., 3].astype(int) - want).max() <= 1  # as `ptx run cutout`
        assert rgba[45, 60, 3] > 200 and rgba[5, 5, 3] < 50

        wrong = httpx.post(
            server.url + "/v1/models/affine/cutout", content=encode_image(rgb, "PNG"), timeout=30
        )
        assert wrong.status_code == 400 and "'enhance' model" in wrong.json()["error"]
        junk = httpx.post(server.url + "/v1/models/cut/cutout", content=b"not an image")
        assert junk.status_code == 400
        doc = httpx.get(server.url + "/openapi.json").json()
        assert "/v1/models/{name}/cutout" in doc["paths"]
    finally:
        server.stop()


def test_cutout_route_refines_as_the_models_spec_says(model_files, srv):
    # the shipped model's spec asks for GrabCut refinement: the route gives what
    # cutout_alpha gives (refined), not the net's raw alpha
    from ptx.runtime.pipelines.cutout import SHIPPED_MODEL
    from ptx.training.cutout.data import held_out

    ((rgb, _),) = held_out(0, 1, 320)
    server = srv.start({"cut": SHIPPED_MODEL})
    try:
        r = httpx.post(
            server.url + "/v1/models/cut/cutout", content=encode_image(rgb, "PNG"), timeout=60
        )
        assert r.status_code == 200, r.text
        got = np.asarray(Image.open(io.BytesIO(r.content)))[..., 3].astype(int)
    finally:
        server.stop()
    refined, raw = (cutout_alpha(SHIPPED_MODEL, [rgb], refine=f)[0] for f in (True, False))
    refined, raw = (np.clip(a * 255.0 + 0.5, 0, 255).astype(int) for a in (refined, raw))
    assert np.abs(got - refined).max() <= 1
    assert (np.abs(got - raw) > 128).sum() > 20

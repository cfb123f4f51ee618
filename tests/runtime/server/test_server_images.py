"""Image routes: enhance and stylize (PNG or JPEG by Accept), generate (grid or JSON list)."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from ptx.io import decode_image, encode_image
from ptx.runtime import load
from ptx.runtime.pipelines.generate import generate


@pytest.fixture(scope="module")
def http(model_files, srv):
    server = srv.start(model_files)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
    server.stop()


def test_enhance_png_and_jpeg(http, helpers):
    img = helpers.random_image(13, 21, seed=5)
    r = http.post("/v1/models/affine/enhance", content=encode_image(img, "PNG"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = decode_image(r.content)
    np.testing.assert_array_equal(out, helpers.expected_affine(img))
    jpeg = http.post(
        "/v1/models/affine/enhance",
        content=encode_image(img, "JPEG"),
        headers={"Accept": "image/jpeg"},
    )
    assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
    assert jpeg.content[:3] == b"\xff\xd8\xff"
    assert decode_image(jpeg.content).shape == (13, 21, 3)


def test_stylize_route_runs_a_stylize_model(http, helpers):
    img = helpers.random_image(9, 11, seed=6)
    r = http.post("/v1/models/style/stylize", content=encode_image(img, "PNG"))
    assert r.status_code == 200
    np.testing.assert_array_equal(decode_image(r.content), 255 - img)
    wrong = http.post("/v1/models/style/enhance", content=encode_image(img, "PNG"))
    assert wrong.status_code == 400 and "stylize" in wrong.json()["error"]


def _expected_generated(srv, n: int, seed: int, category: str) -> tuple[np.ndarray, list[str]]:
    """The documented draw order: z (n, latent) first, then each unset label in spec order."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, srv.LATENT), dtype=np.float32)
    cat = np.full(n, srv.LABELS["category"].index(category))
    col = rng.integers(0, len(srv.LABELS["color"]), n)
    y = srv.generator_reference(z, cat, col)
    pixels = np.clip(np.rint((y + 1) / 2 * 255), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    return pixels, [srv.LABELS["color"][i] for i in col]


def test_generate_json_list_and_grid(http, srv):
    request = {"labels": {"category": "shoe"}, "n": 5, "seed": 3}
    r = http.post("/v1/models/gen/generate", json=request, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    items = r.json()["images"]
    expected, colors = _expected_generated(srv, 5, 3, "shoe")
    assert [it["labels"] for it in items] == [{"category": "shoe", "color": c} for c in colors]
    got = np.stack([decode_image(base64.b64decode(it["png"])) for it in items])
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # float32 vs float64 rounding
    assert len({g.tobytes() for g in got}) == 5  # distinct samples, not one repeated image

    grid = http.post("/v1/models/gen/generate", json=request)
    assert grid.status_code == 200 and grid.headers["content-type"] == "image/png"
    sheet = np.asarray(Image.open(io.BytesIO(grid.content)).convert("RGB"))
    size, gap = srv.GEN_SIZE, 2
    # ptx.image.grid, the one grid builder: 3 columns, 2 rows, a gap around every tile.
    assert sheet.shape == (2 * (size + gap) + gap, 3 * (size + gap) + gap, 3)
    for i in range(5):
        y, x = (gap + k * (size + gap) for k in divmod(i, 3))
        np.testing.assert_array_equal(sheet[y : y + size, x : x + size], got[i])
    assert (sheet[:gap] == 255).all() and (sheet[-gap:, -(size + gap) :] == 255).all()
    again = http.post("/v1/models/gen/generate", json=request)
    assert again.content == grid.content  # same seed, same images


@pytest.mark.parametrize(
    "request_",
    [
        {"labels": {"category": "lamp", "color": "green"}, "n": 3, "seed": 11},
        {"labels": {"color": "red"}, "n": 7, "seed": 0},  # category drawn per sample
        {"n": 4, "seed": 2**40},
    ],
)
def test_generate_route_gives_the_pipelines_images(http, model_files, request_):
    """/generate and `ptx run generate` share one generator contract: same request, same
    images and labels (the route used to take any 2-D float input and default to (0, 1),
    the pipeline wanted an input named z and defaulted to (-1, 1))."""
    r = http.post("/v1/models/gen/generate", json=request_, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    items = r.json()["images"]
    backend = http.get("/v2/models/gen").json()["parameters"]["backend"]  # what auto picked
    with load(model_files["gen"], backend=backend) as engine:
        images, labels = generate(
            engine, request_.get("labels"), n=request_["n"], seed=request_["seed"]
        )
    assert [it["labels"] for it in items] == labels
    got = np.stack([decode_image(base64.b64decode(it["png"])) for it in items])
    np.testing.assert_array_equal(got, np.stack(images))

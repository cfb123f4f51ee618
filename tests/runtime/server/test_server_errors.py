"""Bad input gets the right 4xx with a JSON message, and the server keeps serving."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest
from PIL import Image

TOKEN = "s3cret-token-123"


@pytest.fixture(scope="module")
def server(model_files, srv):
    s = srv.start(model_files, max_body_mb=0.25, max_pixels=64 * 64)
    yield s
    s.stop()


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _png(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _binary_infer(x: np.ndarray, declared: int | None = None) -> tuple[bytes, dict]:
    doc = {
        "inputs": [
            {
                "name": "image",
                "shape": list(x.shape),
                "datatype": "FP32",
                "parameters": {"binary_data_size": declared or x.nbytes},
            }
        ]
    }
    header = json.dumps(doc).encode()
    return header + x.tobytes(), {"Inference-Header-Content-Length": str(len(header))}


def _assert_serving(http, srv) -> None:
    x = np.full((1, 3, 2, 2), 0.5, np.float32)
    r = http.post("/v2/models/affine/infer", content=srv.infer_json("image", x))
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == [0.5] * 12


def _assert_error(r: httpx.Response, status: int, fragment: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    message = r.json()["error"]
    assert fragment in message, message
    assert "Traceback" not in message and 'File "' not in message


def test_each_bad_request_gets_its_4xx_and_the_server_keeps_serving(http, srv):
    x = np.zeros((1, 3, 4, 4), np.float32)
    infer = "/v2/models/affine/infer"
    truncated, headers = _binary_infer(x)
    cases = [
        (http.post(infer, content=b'{"inputs": [ {"name": '), 400, "not valid JSON"),
        (http.post(infer, content=srv.infer_json("image", x, "INT64")), 400, "datatype"),
        (
            http.post(infer, content=srv.infer_json("image", np.zeros((1, 4, 4), np.float32))),
            400,
            "shape",
        ),
        (
            http.post("/v2/models/nosuch/infer", content=srv.infer_json("image", x)),
            404,
            "unknown model",
        ),
        (http.post(infer, content=truncated[:-7], headers=headers), 400, "truncated"),
        (http.post(infer, content=b"x" * 300_000), 413, "limit"),
        (http.post("/v1/models/affine/enhance", content=_png(65, 64)), 413, "MP"),
        (
            http.post("/v1/models/affine/enhance", content=b"\x89PNG\r\n\x1a\nbroken"),
            400,
            "request body",
        ),
        (
            http.post(
                "/v1/models/affine/enhance", content=_png(8, 8), headers={"Accept": "text/html"}
            ),
            406,
            "Accept",
        ),
        (http.post("/v1/models/gen/enhance", content=_png(8, 8)), 400, "generate"),
        (http.post("/v1/models/affine/generate", content=b"{}"), 400, "/generate"),
        (http.post("/v1/models/gen/generate", content=b'{"n": 0}'), 400, "'n'"),
        (
            http.post("/v1/models/gen/generate", content=b'{"labels": {"category": "car"}}'),
            400,
            "valid values: mug, shoe, lamp",
        ),
        (http.post(infer, content=b"{}", headers={"Content-Encoding": "br"}), 415, "br"),
        (http.get("/v2/models/affine/versions/7"), 404, "version"),
        (http.get("/no/such/route"), 404, "Not Found"),
        (http.delete(infer), 405, "Method Not Allowed"),
    ]
    for response, status, fragment in cases:
        _assert_error(response, status, fragment)
        _assert_serving(http, srv)


def test_body_limit_is_checked_while_streaming(http, srv):
    def chunks():
        for _ in range(40):  # 40 × 16 KiB = 640 KiB, no Content-Length (chunked)
            yield b"x" * 16384

    r = http.post("/v2/models/affine/infer", content=chunks())
    _assert_error(r, 413, "0.25 MiB")
    _assert_serving(http, srv)


def test_failures_are_counted_by_model_and_status(http, srv):
    before = srv.metric(
        http.get("/metrics").text, "ptx_request_failures_total", model="affine", code="400"
    )
    http.post("/v2/models/affine/infer", content=b"{")
    text = http.get("/metrics").text
    after = srv.metric(text, "ptx_request_failures_total", model="affine", code="400")
    assert after == before + 1
    stats = http.get("/v2/models/affine/stats").json()["model_stats"][0]["inference_stats"]
    assert stats["fail"]["count"] >= 1
    # unknown names share one label, so a scan cannot grow the metric set
    http.post("/v2/models/zzz-unknown/infer", content=b"{}")
    assert "zzz-unknown" not in http.get("/metrics").text


def test_token_is_required_except_for_probes(model_files, srv):
    s = srv.start({"affine": model_files["affine"]}, token=TOKEN)
    try:
        with httpx.Client(base_url=s.url, timeout=30) as http:
            body = srv.infer_json("image", np.zeros((1, 3, 2, 2), np.float32))
            assert http.get("/v2/health/live").status_code == 200
            assert http.get("/v2/health/ready").status_code == 200
            for headers in (
                {},
                {"Authorization": "Bearer wrong-token"},
                {"Authorization": f"Basic {TOKEN}"},
            ):
                r = http.post("/v2/models/affine/infer", content=body, headers=headers)
                _assert_error(r, 401, "token")
                assert r.headers["www-authenticate"] == "Bearer"
                _assert_error(http.get("/metrics", headers=headers), 401, "token")
            good = {"Authorization": f"Bearer {TOKEN}"}
            r = http.post("/v2/models/affine/infer", content=body, headers=good)
            assert r.status_code == 200
            assert http.get("/v2", headers=good).json()["name"] == "ptx"
    finally:
        s.stop()

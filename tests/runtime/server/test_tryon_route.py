"""POST /v1/models/{name}/tryon: the picture `ptx run tryon` writes, limits, auth, metrics."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ptx.cli import main
from ptx.io import decode_image, encode_image, read_image
from ptx.runtime.server.http import HTTPError
from ptx.runtime.server.multipart import parse_form

SIDE = 24
TOKEN = "try-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def tryon_onnx(export_tryon) -> Path:
    """The real try-on family at its CI size, random weights nudged off the identity, exported."""
    return export_tryon(SIDE, 3)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Renderer garments (one cropped off-square) and mannequins (one a JPEG), as files."""
    from ptx.training.tryon.data import eval_sample

    d = tmp_path_factory.mktemp("tryon_pics")
    out = {}
    for i in range(2):
        s = eval_sample(i, 40, [])
        garment = s.garment if i == 0 else s.garment[4:36]  # 32 x 40: letterboxed
        out[f"g{i}"] = d / f"g{i}.png"
        out[f"m{i}"] = d / (f"m{i}.png" if i == 0 else f"m{i}.jpg")
        out[f"g{i}"].write_bytes(encode_image(garment, "PNG"))
        out[f"m{i}"].write_bytes(encode_image(s.mannequin, "PNG" if i == 0 else "JPEG"))
    return out


@pytest.fixture(scope="module")
def server(tryon_onnx, model_files, srv):
    s = srv.start(
        {"try": tryon_onnx, "affine": model_files["affine"]}, token=TOKEN, max_pixels=64 * 64
    )
    yield s
    s.stop()


def _post(server, name: str, files: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/models/{name}/tryon",
        files=files,
        headers={**AUTH, **(headers or {})},
        timeout=30,
    )


def _files(pictures: dict[str, Path], g: str, m: str) -> dict:
    return {
        "garment": (pictures[g].name, pictures[g].read_bytes(), "image/png"),
        "mannequin": (pictures[m].name, pictures[m].read_bytes(), "image/png"),
    }


def test_route_answers_what_ptx_run_tryon_writes(server, pictures, tryon_onnx, tmp_path, srv):
    params = httpx.get(f"{server.url}/v2/models/try", headers=AUTH).json()["parameters"]
    # What auto picked (timed, so it may differ run to run): the CLI runs the same one.
    picked = ["--backend", params["backend"], "--precision", params["precision"]]
    out = tmp_path / "cli"
    folder = str(pictures["g0"].parent)  # every picture as garment and as mannequin
    args = ["run", "tryon", "--model", str(tryon_onnx), "--garment", folder,
            "--mannequin", folder, "--out", str(out), *picked]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    pairs = [(g, m) for g in ("g0", "g1") for m in ("m0", "m1")]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # concurrent: the batcher may merge
        answers = list(pool.map(lambda p: _post(server, "try", _files(pictures, *p)), pairs))
    seen = set()
    for (g, m), r in zip(pairs, answers, strict=True):
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        got = decode_image(r.content)
        want = read_image(out / f"{g}_on_{pictures[m].stem}.png")
        assert got.shape == (SIDE, SIDE, 3)
        np.testing.assert_array_equal(got, want)  # max abs diff 0
        seen.add(got.tobytes())
    assert len(seen) == 4  # each pair its own picture, not one repeated

    jpeg = _post(server, "try", _files(pictures, "g1", "m0"), {"Accept": "image/jpeg"})
    assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
    assert decode_image(jpeg.content).shape == (SIDE, SIDE, 3)

    text = httpx.get(f"{server.url}/metrics", headers=AUTH).text
    assert srv.metric(text, "ptx_requests_total", model="try", route="tryon", code="200") == 5
    stats = httpx.get(f"{server.url}/v2/models/try/stats", headers=AUTH).json()
    assert stats["model_stats"][0]["inference_count"] == 5


def test_bad_requests_are_one_line_4xx(server, pictures, helpers):
    good = _files(pictures, "g0", "m0")
    cases = [
        (_post(server, "affine", good), 400, "'enhance' model; /tryon serves tryon"),
        (_post(server, "try", {"garment": good["garment"]}), 400, "missing part 'mannequin'"),
        (
            _post(server, "try", {**good, "shoe": ("s.png", b"x", "image/png")}),
            400,
            "unknown part 'shoe'",
        ),
        (
            _post(server, "try", {**good, "garment": ("g.png", b"not an image", "image/png")}),
            400,
            "part 'garment'",
        ),
        (
            _post(server, "try", {**good, "mannequin": ("m.png", b"", "image/png")}),
            400,
            "part 'mannequin': empty",
        ),
        (
            _post(
                server,
                "try",
                {**good, "garment": ("big.png", encode_image(helpers.random_image(65, 64)), "")},
            ),
            413,
            "part 'garment': image has",
        ),
        (
            httpx.post(
                f"{server.url}/v1/models/try/tryon",
                content=pictures["g0"].read_bytes(),
                headers={**AUTH, "Content-Type": "image/png"},
            ),
            415,
            "multipart/form-data",
        ),
        (_post(server, "try", good, {"Accept": "text/html"}), 406, "image/png"),
        (_post(server, "nope", good), 404, "unknown model"),
        (httpx.post(f"{server.url}/v1/models/try/tryon", files=good), 401, "bearer token"),
    ]
    for r, status, needle in cases:
        assert r.status_code == status, (needle, r.text)
        error = r.json()["error"]
        assert needle in error and "\n" not in error, error


def test_multipart_parser_slices_exact_bytes() -> None:
    fields = ("garment", "mannequin")
    png = bytes(range(256)) + b"\r\n--notquite\r\n"  # binary with CRLFs and dashes inside
    body = (
        b"preamble\r\n--B q\r\n"
        b'Content-Disposition: form-data; name="garment"; filename="a b.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--B q\r\n"
        b"Content-Disposition: form-data; name=mannequin\r\n\r\nxyz\r\n--B q--\r\nepilogue"
    )
    got = parse_form(body, 'multipart/form-data; boundary="B q"', fields)
    assert got == {"garment": png, "mannequin": b"xyz"}
    bad = [
        (body[: body.index(b"--B q--")], "no closing boundary"),
        (body.replace(b'name="garment"', b'name="mannequin"'), "given twice"),
        (body.replace(b"Content-Disposition: form-data; name=mannequin", b"X: y"), "no Content"),
    ]
    for data, needle in bad:
        with pytest.raises(HTTPError, match=needle) as info:
            parse_form(data, 'multipart/form-data; boundary="B q"', fields)
        assert info.value.status == 400
    with pytest.raises(HTTPError, match="boundary parameter") as info:
        parse_form(body, "multipart/form-data", fields)
    assert info.value.status == 400
    with pytest.raises(HTTPError, match="not supported") as info:
        parse_form(body, "application/json", fields)
    assert info.value.status == 415


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(
    st.lists(
        st.sampled_from([b"--B", b"\r\n", b"--", b"Content-Disposition: form-data; name=",
                         b'"garment"', b"mannequin", b"\r\n\r\n", b"x", b"\xff", b";"]),
        max_size=30,
    ).map(b"".join),
    st.sampled_from(["multipart/form-data; boundary=B", "multipart/form-data; boundary=",
                     "multipart/form-data; boundary=\u00e9\u2603", "text/plain", ""]),
)  # fmt: skip
def test_multipart_parser_answers_any_body_with_parts_or_one_http_error(body, content_type):
    try:
        parts = parse_form(body, content_type, ("garment", "mannequin"))
    except HTTPError as exc:
        assert exc.status in (400, 415) and "\n" not in exc.message
    else:
        assert set(parts) == {"garment", "mannequin"}

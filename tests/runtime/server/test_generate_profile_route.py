"""POST /v1/models/{name}/generate with a profile: what `ptx run generate --profile` writes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.io import decode_image, read_image

# The conftest generator's vocabulary: category mug/shoe/lamp, color red/green.
ALICE = {"name": "alice", "colors": {"red": 3, "green": 1}, "categories": ["mug", "lamp", "hat"]}


@pytest.fixture(scope="module")
def server(model_files, srv):
    s = srv.start({"gen": model_files["gen"], "style": model_files["style"]}, max_images=20)
    yield s
    s.stop()


def _cli(model: Path, profile: dict, out: Path, picked: list[str], *extra: str) -> dict:
    """`ptx run generate --profile` on ``profile``; its --json report."""
    path = out.parent / f"{out.name}.json"
    path.write_text(json.dumps(profile))
    args = ["run", "generate", "--model", str(model), "--profile", str(path), "--out", str(out),
            *picked, "--json", *extra]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("body", "cli_args", "n"),
    [
        ({"profile": ALICE, "n": 8, "seed": 5}, ["--n", "8", "--seed", "5"], 8),
        ({"profile": {**ALICE, "n": 6, "seed": 9}, "n": 3}, ["--n", "3"], 6),  # the profile's win
        ({"profile": {"styles": ["x"], "categories": {"shoe": 1}}}, [], 16),  # both default to 16
    ],
)
def test_profile_gives_the_clis_variants_and_grid(server, model_files, tmp_path, body, cli_args, n):
    http = httpx.Client(base_url=server.url, timeout=30)
    params = http.get("/v2/models/gen").json()["parameters"]
    # What auto picked (timed, so it may differ run to run): the CLI runs the same one.
    picked = ["--backend", params["backend"], "--precision", params["precision"]]
    report = _cli(model_files["gen"], body["profile"], tmp_path / "out", picked, *cli_args)

    r = http.post("/v1/models/gen/generate", json=body, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["profile"] == report["profile"] and doc["seed"] == report["seed"]
    assert doc["groups"] == report["groups"] and doc["notes"] == report["notes"]
    assert len(doc["images"]) == len(report["images"]) == n
    for item, written in zip(doc["images"], report["images"], strict=True):
        assert item["labels"] == {k: v for k, v in written.items() if k != "path"}
        got = decode_image(base64.b64decode(item["png"]))
        np.testing.assert_array_equal(got, read_image(written["path"]))  # max abs diff 0

    grid = http.post("/v1/models/gen/generate", json=body)
    assert grid.status_code == 200 and grid.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(decode_image(grid.content), read_image(report["grid"]))
    http.close()


def test_profile_notes_say_what_was_left_out(server) -> None:
    r = httpx.post(
        f"{server.url}/v1/models/gen/generate",
        json={"profile": ALICE, "n": 8, "seed": 5},
        headers={"Accept": "application/json"},
    )
    doc = r.json()
    assert [g["count"] for g in doc["groups"]] == [3, 3, 1, 1]  # red 3 : green 1, mug = lamp
    assert {g["labels"]["color"] for g in doc["groups"][:2]} == {"red"}
    assert len(doc["notes"]) == 1 and "category 'hat' left out" in doc["notes"][0]
    colors = [it["labels"]["color"] for it in doc["images"]]
    assert colors.count("red") == 6 and colors.count("green") == 2


def test_bad_profiles_are_one_line_400(server) -> None:
    url = f"{server.url}/v1/models/gen/generate"
    cases = [
        ({"profile": ALICE, "labels": {"color": "red"}}, 400, "do not combine"),
        ({"profile": ["red"]}, 400, "a profile is a JSON object"),
        ({"profile": {"colors": {"red": -1}, "size": 3}}, 400, "'size': unknown"),
        ({"profile": {"colors": {"red": 10**400}}}, 400, "positive finite weight"),
        ({"profile": {"colors": ["blue"]}}, 400, "nothing this generator can express"),
        ({"profile": {**ALICE, "n": 500}}, 400, "'n' must be 1..20"),
        ({"profile": ALICE, "n": 0}, 400, "'n' must be 1..20"),
        ({"profile": ALICE, "seed": -1}, 400, "'seed' must be"),
        ({"profile": {**ALICE, "n": 4}, "n": "4"}, 400, "'n' must be an integer"),
    ]
    for body, status, needle in cases:
        r = httpx.post(url, json=body, timeout=30)
        assert r.status_code == status, (body, r.text)
        error = r.json()["error"]
        assert needle in error and "\n" not in error, error
    both = httpx.post(url, json={"profile": {"colors": {"red": -1}, "size": 3}}).json()["error"]
    assert "'size'" in both and "'red'" in both  # every bad field, on one line
    huge = {"profile": {"colors": {"red": 1e308, "green": 1e308}, "categories": {"mug": 1e308}}}
    assert httpx.post(url, json=huge, timeout=30).status_code == 200  # products stay finite
    wrong = httpx.post(f"{server.url}/v1/models/style/generate", json={"profile": ALICE})
    assert wrong.status_code == 400 and "'stylize' model" in wrong.json()["error"]

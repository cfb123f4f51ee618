"""`ptx bench --url`: closed-loop load on a live server, reported in the harness's format."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ptx.benchmarks.cli.bench import bench
from ptx.benchmarks.harness.report import load_json
from ptx.benchmarks.serving.bench import Answers, concurrency_levels
from ptx.errors import InputError, ModelError

SHAPE = "image:1x3x8x8"


@pytest.fixture(scope="module")
def server(model_files, srv):
    s = srv.start({"affine": model_files["affine"]}, max_batch=4, max_delay_us=5000)
    yield s
    s.stop()


def _bench(*args: str):
    return CliRunner().invoke(bench, list(args), catch_exceptions=False)


def test_sweep_writes_the_harness_report_table_csv_and_plot(server, tmp_path):
    out = tmp_path / "load"
    result = _bench(
        "--url", server.url, "--model-name", "affine", "--shapes", SHAPE,
        "--concurrency", "1,3", "--duration", "0.6", "--warmup", "0.2",
        "--json", f"{out}.json", "--csv", f"{out}.csv", "--plot", f"{out}.png",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = load_json(f"{out}.json")  # the ptx.bench schema: `ptx bench compare` reads it
    assert [r["concurrency"] for r in doc["runs"]] == [1, 3]
    for run in doc["runs"]:
        assert run["streams"] == run["concurrency"] and run["batch"] == 1
        assert run["inputs"] == {"image": {"shape": [1, 3, 8, 8], "dtype": "float32"}}
        out_ = run["outcome"]
        assert out_["errors"] == 0 and out_["wrong_results"] == 0 and out_["overloaded_503"] == 0
        assert out_["answered"] == run["queries"] == len(run["iterations"]) > 0
        lat = run["latency"]
        assert 0 < lat["min"] <= lat["median"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert {it["stream"] for it in run["iterations"]} <= set(range(run["concurrency"]))
        split = run["server"]
        assert split["executions"] > 0 and split["mean_batch"] >= 1.0
        assert split["compute_infer_ms"] > 0 and split["queue_ms"] >= 0
        assert run["server_rss_mib"]["end"] > 0  # process_resident_memory_bytes on /metrics
        assert run["settings"]["reference"] == "first answers"
    assert doc["target"]["metadata"]["name"] == "affine"
    assert "clients" in result.output and "Server (mean per request)" in result.output
    with open(f"{out}.csv") as f:
        assert [int(r["streams"]) for r in csv.DictReader(f)] == [1, 3]
    with Image.open(f"{out}.png") as im:
        assert im.size[0] > 600


def test_local_model_gives_reference_answers_and_the_in_process_floor(server, model_files):
    result = _bench(
        "--url", server.url, "--model-name", "affine", "--model", str(model_files["affine"]),
        "--shapes", SHAPE, "--duration", "0.4", "--warmup", "0.1", "--json", "-",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    run = doc["runs"][0]
    assert run["settings"]["reference"] == "local model" and run["outcome"]["wrong_results"] == 0
    assert doc["in_process"]["backend"] == "onnxruntime" and doc["in_process"]["p50_ms"] > 0
    assert run["p50_vs_in_process"] == pytest.approx(
        run["latency"]["median"] / doc["in_process"]["p50_ms"]
    )


def test_wrong_answers_are_counted_and_exit_non_zero(server, helpers, tmp_path):
    other = helpers.affine_model(tmp_path / "other.onnx", scale=0.25)  # not what is served
    result = CliRunner().invoke(
        bench,
        ["--url", server.url, "--model-name", "affine", "--model", str(other), "--shapes", SHAPE,
         "--duration", "0.3", "--warmup", "0", "--no-iterations"],
    )  # fmt: skip
    assert isinstance(result.exception, ModelError)  # `ptx` turns it into one line and exit 2
    assert "answers came back wrong at concurrency 1" in str(result.exception)


def test_answers_check_catches_mix_ups_and_allows_fp16_rounding():
    a, b = np.zeros((1, 3), np.float32), np.ones((1, 3), np.float32)
    answers = Answers([{"y": a}, {"y": b}])
    assert answers.check(0, {"y": a}) and answers.check(1, {"y": b})
    assert not answers.check(0, {"y": b})  # another request's answer
    assert not answers.check(0, {"z": a}) and not answers.check(0, {"y": a[:, :2]})
    assert Answers([{"y": b}]).check(0, {"y": (b + 0.01).astype(np.float16)})
    assert not Answers([{"y": b}]).check(0, {"y": b + 0.01})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-name", "nope", "--shapes", SHAPE], "no model 'nope' (served: affine)"),
        (["--shapes", SHAPE], "--url needs --model-name"),
        (["--model-name", "affine", "--engine", "x.plan"], "--engine cannot go with it"),
        (["--model-name", "affine", "--shapes", SHAPE, "--concurrency", "0"], "levels must be"),
        (["--model-name", "affine", "--shapes", SHAPE, "--batch", "1,2"], "one --batch"),
        (["--model-name", "affine", "--shapes", "x:1x3"], "not inputs"),
    ],
)
def test_bad_requests_are_one_line(server, args, message):
    result = CliRunner().invoke(bench, ["--url", server.url, *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError), result.output
    assert message in str(result.exception)


def test_open_dims_without_shapes_follow_the_one_input_rule(server):
    """Was an error ("give --shapes"); now ptx.inputs' rule sizes them and says so."""
    result = CliRunner().invoke(
        bench,
        ["--url", server.url, "--model-name", "affine", "--duration", "0.3", "--warmup", "0.1",
         "--json", "-"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "measured at 1x3x64x64 (choose with --shapes image:Nx3xNxN)" in result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert run["inputs"] == {"image": {"shape": [1, 3, 64, 64], "dtype": "float32"}}


def test_unreachable_server_and_missing_token_are_one_line(model_files, srv):
    result = CliRunner().invoke(bench, ["--url", "http://127.0.0.1:1", "--model-name", "m"])
    assert "cannot reach the server" in str(result.exception)
    s = srv.start({"affine": model_files["affine"]}, token="t0ken-for-tests")
    try:
        result = CliRunner().invoke(bench, ["--url", s.url, "--model-name", "affine"])
        assert "401 unauthorised; give the server's --token" in str(result.exception)
        ok = _bench(
            "--url", s.url, "--model-name", "affine", "--token", "t0ken-for-tests",
            "--shapes", SHAPE, "--duration", "0.2", "--warmup", "0", "--no-iterations",
        )  # fmt: skip
        assert ok.exit_code == 0, ok.output
    finally:
        s.stop()


def test_concurrency_levels_parse():
    assert concurrency_levels("1, 8,32") == [1, 8, 32]
    with pytest.raises(InputError, match="integers"):
        concurrency_levels("1,a")

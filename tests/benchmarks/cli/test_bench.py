"""`ptx bench` and `ptx bench compare` through the real CLI on tiny ONNX models."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ptx.benchmarks.serving.load import spawn_server, stop_server
from ptx.cli import main

QUICK = ["--duration", "0.2", "--warmup", "0.05", "--iterations", "3"]


def invoke(*args: str):
    return CliRunner().invoke(main, ["bench", *args])


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bench_writes_json_csv_and_plot(dynamic_onnx, tmp_path) -> None:
    out = tmp_path / "r.json"
    result = invoke(
        "--model",
        str(dynamic_onnx),
        "--batch",
        "1,4",
        *QUICK,
        "--json",
        str(out),
        "--csv",
        str(tmp_path / "r.csv"),
        "--plot",
        str(tmp_path / "r.png"),
    )
    assert result.exit_code == 0, result.output
    assert "Throughput:" in result.stdout and "Latency: min =" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 1 and [r["batch"] for r in doc["runs"]] == [1, 4]
    assert doc["env"]["cpu_cores"] >= 1 and "onnxruntime" in doc["env"]["versions"]
    assert doc["runs"][1]["settings"]["spin_wait"] is False
    assert (tmp_path / "r.csv").read_text().count("\n") == 3
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.part"))  # atomic writes leave no temp files


def test_bench_json_to_stdout(static_onnx) -> None:
    result = invoke("--model", str(static_onnx), *QUICK, "--json", "-", "--no-iterations")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["runs"][0]["batch"] == 1 and "iterations" not in doc["runs"][0]


def test_compare_cli_table_json_and_plot(dynamic_onnx, tmp_path) -> None:
    for name, batch in (("a", "1,2"), ("b", "2")):
        done = invoke(
            "--model",
            str(dynamic_onnx),
            "--batch",
            batch,
            *QUICK,
            "--json",
            str(tmp_path / f"{name}.json"),
        )
        assert done.exit_code == 0, done.output
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    result = invoke("compare", a, b, "--plot", str(tmp_path / "c.png"))
    assert result.exit_code == 0, result.output
    assert "speed-up" in result.stdout and "1.000x" in result.stdout
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    rows = json.loads(invoke("compare", a, b, "--json").stdout)
    assert [r["batch"] for r in rows] == [1, 2, 2] and rows[2]["speedup"] > 0


def test_compare_refuses_other_schema_version(tmp_path) -> None:
    (tmp_path / "old.json").write_text(
        json.dumps({"schema": "ptx.bench", "schema_version": 0, "runs": []})
    )
    one_line_error(invoke("compare", str(tmp_path / "old.json")), "schema version 0")


def test_bad_inputs_are_one_line(dynamic_onnx, static_onnx, tmp_path) -> None:
    one_line_error(invoke("--model", str(dynamic_onnx), "--duration", "0"), "--duration")
    one_line_error(
        invoke("--model", str(dynamic_onnx), "--batch", "8", *QUICK),
        "outside the model's profile",
        "max [4, 3, 16, 16]",
    )
    one_line_error(invoke("--model", str(static_onnx), "--batch", "2", *QUICK), "fixed batch of 1")
    one_line_error(invoke("--model", str(tmp_path / "missing.onnx")), "missing.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07 this is not a protobuf model")
    one_line_error(invoke("--model", str(broken), *QUICK), "broken.onnx")
    one_line_error(invoke(*QUICK), "give exactly one of")
    one_line_error(invoke("--model", str(dynamic_onnx), "--device", "tpu"), "--device")
    try:
        import onnxruntime

        has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    except ImportError:  # pragma: no cover
        has_cuda = False
    if not has_cuda:
        one_line_error(invoke("--model", str(dynamic_onnx), "--device", "cuda"), "onnxruntime-gpu")


def test_engine_plan_is_one_clear_line_without_gpu_runtime(tmp_path) -> None:
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"not really a plan")
    one_line_error(invoke("--engine", str(plan), *QUICK), "m.plan")


@pytest.mark.parametrize("flag", ["--cuda-graph", "--spin-wait"])
def test_gpu_flags_recorded_on_cpu(static_onnx, flag) -> None:
    result = invoke("--model", str(static_onnx), *QUICK, flag, "--json", "-")
    doc = json.loads(result.stdout)
    key = flag[2:].replace("-", "_")
    assert doc["runs"][0]["settings"][key] is True
    assert any(flag in w for w in doc["runs"][0]["warnings"])


def test_backend_choice_for_onnx_models(static_onnx, tmp_path) -> None:
    one_line_error(invoke("--model", str(static_onnx), "--backend", "nope", *QUICK), "nope")
    (tmp_path / "c").mkdir()
    one_line_error(
        invoke("--checkpoint", str(tmp_path / "c"), "--backend", "openvino"),
        "--backend applies to --model",
    )
    pytest.importorskip("openvino")
    result = invoke("--model", str(static_onnx), "--backend", "openvino", *QUICK, "--json", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runs"][0]["label"].startswith("openvino/")


def test_open_dims_without_a_profile_are_sized_by_the_one_rule_with_a_note(hw_onnx) -> None:
    result = invoke("--model", str(hw_onnx), *QUICK)
    assert result.exit_code == 0, result.output
    note = "note: input 'x' has open dims and no spec profile; measured at 1x3x64x64"
    assert f"* {note}" in result.stdout  # in the run's summary, with the other warnings
    result = invoke("--model", str(hw_onnx), "--batch", "2", *QUICK, "--json", "-")
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)["runs"]
    assert run["inputs"]["x"]["shape"] == [2, 3, 64, 64]
    assert any(w.startswith("note: input 'x'") and "2x3x64x64" in w for w in run["warnings"])
    assert "(choose with --shapes x:Nx3xNxN)" in result.stderr  # JSON on stdout: note on stderr


def test_url_sizes_open_dims_by_the_same_rule(hw_onnx) -> None:
    proc, url = spawn_server(f"m={hw_onnx}", ["--max-batch", "1"])
    try:
        result = invoke(
            "--url", url, "--model-name", "m", "--duration", "0.2", "--warmup", "0.05",
            "--json", "-", "--no-iterations",
        )  # fmt: skip
    finally:
        stop_server(proc)
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)["runs"]
    assert run["inputs"]["x"]["shape"] == [1, 3, 64, 64] and run["outcome"]["errors"] == 0
    assert any(w.startswith("note: input 'x'") for w in run["warnings"])
    assert "measured at 1x3x64x64" in result.stderr

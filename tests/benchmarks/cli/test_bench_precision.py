"""`ptx bench --precision`: the label names what ran; a precision the CPU lacks is one line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.runtime.backends.auto import precision as ladder

pytest.importorskip("openvino")
QUICK = ["--duration", "0.1", "--warmup", "0.02", "--iterations", "2"]


def invoke(*args: str):
    return CliRunner().invoke(main, ["bench", *args])


def test_bench_precision_one_line_errors(static_onnx, tmp_path, monkeypatch) -> None:
    old = {"model": "old CPU", "matrix": [], "vector": ["avx2"]}
    monkeypatch.setattr(ladder, "cpu_capabilities", lambda: old)
    for args, fragment in [
        (["--model", str(static_onnx), "--backend", "openvino", "--precision", "bf16"], "old CPU"),
        (["--model", str(static_onnx), "--precision", "fp16"], "ONNX Runtime runs fp32"),
        (["--engine", str(tmp_path / "m.plan"), "--precision", "bf16"], "--precision applies"),
    ]:
        res = invoke(*args, *QUICK)
        assert res.exit_code == 2, res.output
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and fragment in lines[0], res.stderr


def test_bench_label_names_the_precision_that_ran(static_onnx) -> None:
    if ladder.unsupported("bf16"):
        pytest.skip(f"bf16 not runnable here: {ladder.unsupported('bf16')}")
    args = ["--model", str(static_onnx), "--backend", "openvino", "--precision", "bf16"]
    res = invoke(*args, *QUICK, "--json", "-", "--no-iterations")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)["runs"][0]
    assert run["backend"] == "openvino" and run["precision"] == "bf16"

"""Bad input to the FP16 pipeline: one clear line, a non-zero exit, nothing half-written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import numpy_helper as nh

from ptx.cli import main

HERE = Path(__file__).resolve().parent
BAD = HERE / "bad_models.py"
CONV = HERE.parent / "pytorch" / "fixtures" / "conv_model.py"
HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))


def _fails_in_one_line(args: list[str], says: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0], result.stderr


def _export(target: str, out: Path, *more: str) -> list[str]:
    return ["export", "--model", target, "--input", "x:1x3x16x16", "--precision", "fp16",
            "--out", str(out), *more]  # fmt: skip


def test_nan_weights_export_and_convert(tmp_path):
    out = tmp_path / "out" / "nan.onnx"
    _fails_in_one_line(_export(f"{BAD}:make_nan", out), "NaN")
    assert not out.exists() and not list(out.parent.glob("*"))
    # An FP32 ONNX file with NaN weights given to `ptx convert`.
    model = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Conv", ["x", "w"], ["y"], pads=[1] * 4, name="conv")],
            "g",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
            [nh.from_array(np.full((3, 3, 3, 3), np.nan, np.float32), "w")],
        ),  # fmt: skip
        opset_imports=[onnx.helper.make_opsetid("", 18)],
    )
    onnx.save(model, str(tmp_path / "nan32.onnx"))
    dst = tmp_path / "nan16.onnx"
    args = ["convert", str(tmp_path / "nan32.onnx"), str(dst)]
    _fails_in_one_line(args, "weight 'w' holds 81 NaN")
    assert not dst.exists()


def test_fp32_graph_that_disagrees_with_pytorch(tmp_path):
    out = tmp_path / "div.onnx"
    args = _export(f"{CONV}:make_divergent", out, "--exporter", "torchscript", "--opset", "17")
    _fails_in_one_line(args, "parity FAILED")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13")
def test_op_tensorrt_cannot_build(tmp_path):
    onnx16 = tmp_path / "det.onnx"
    result = CliRunner().invoke(main, _export(f"{BAD}:make_det", onnx16))
    assert result.exit_code == 0, result.output  # ONNX Runtime runs Det; TensorRT cannot
    plans = tmp_path / "plans"
    plans.mkdir()
    _fails_in_one_line(
        ["build", "--onnx", str(onnx16), "--out", str(plans / "det.plan")], "(op Det)"
    )
    assert list(plans.iterdir()) == []

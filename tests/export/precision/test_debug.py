"""Automatic precision debugging: the calibrated policy fails, a small FP32 set passes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from ptx.cli import main
from ptx.errors import ExportError
from ptx.export.precision.convert import convert_fp16
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

DIMS = ["n", 3, "h", "w"]


def offset_model(lo: float = 0.0) -> onnx.ModelProto:
    """y = relu((2x + 1000) - 1000) / 2: x + 1000 keeps 0.5 steps in FP16, far below 8192."""
    nodes = [
        h.make_node("Mul", ["x", "two"], ["a"], name="double"),
        h.make_node("Add", ["a", "big"], ["b"], name="add_big"),
        h.make_node("Sub", ["b", "big"], ["c"], name="sub_big"),
        h.make_node("Relu", ["c"], ["d"], name="relu"),
        h.make_node("Mul", ["d", "half"], ["e"], name="halve"),
        h.make_node("Sub", ["e", "lo"], ["y"], name="shift"),
    ]
    consts = {"two": 2.0, "big": 1000.0, "half": 0.5, "lo": lo}
    graph = h.make_graph(
        nodes, "offset", [h.make_tensor_value_info("x", TP.FLOAT, DIMS)],
        [h.make_tensor_value_info("y", TP.FLOAT, DIMS)],
        [nh.from_array(np.array(v, np.float32), k) for k, v in consts.items()],
    )  # fmt: skip
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    embed_in_onnx(model, ModelSpec(
        task="custom", inputs=[TensorSpec("x", "float32", DIMS)],
        outputs=[TensorSpec("y", "float32", DIMS)], image=ImageConvention(range=(lo, lo + 1)),
    ))  # fmt: skip
    return model


def test_search_keeps_only_the_nodes_that_matter(tmp_path):
    onnx.save(offset_model(), str(tmp_path / "m.onnx"))
    report = convert_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", samples=2)
    assert report.check["passed"] and report.debug is not None
    assert set(report.debug["added_fp32"]) == {"add_big", "sub_big"}
    assert report.kept_fp32["add_big"].startswith("precision debugging")
    assert "psnr" in report.debug["before"] and report.fp16_nodes >= 3
    assert report.debug["trials"] <= 12 and "precision debugging kept 2" in report.summary()


def test_without_auto_debug_the_gate_fails_naming_the_worst_nodes(tmp_path):
    onnx.save(offset_model(), str(tmp_path / "m.onnx"))
    with pytest.raises(ExportError, match="worst nodes: .*(add_big|sub_big)"):
        convert_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", samples=2, auto_debug=False)
    assert not (tmp_path / "m16.onnx").exists()


def test_when_even_all_fp32_fails_one_line_and_nothing_written(tmp_path):
    # Inputs near 1000 with a span of 1: FP16 I/O alone rounds them to 0.5 steps.
    onnx.save(offset_model(lo=1000.0), str(tmp_path / "m.onnx"))
    result = CliRunner().invoke(
        main, ["convert", str(tmp_path / "m.onnx"), str(tmp_path / "m16.onnx"), "--fp16-io"]
    )
    assert result.exit_code != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "even with every node FP32" in errors[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_sin_of_large_arguments_stays_fp32_with_its_maker(tmp_path):
    """A timestep-embedding-like sin(x * f) with x up to 1000: FP16 steps 0.5 rad there."""
    nodes = [
        h.make_node("Mul", ["x", "freq"], ["arg"], name="scale"),
        h.make_node("Sin", ["arg"], ["s"], name="sin"),
        h.make_node("Mul", ["s", "freq"], ["y"], name="out"),
    ]
    graph = h.make_graph(
        nodes, "emb", [h.make_tensor_value_info("x", TP.FLOAT, DIMS)],
        [h.make_tensor_value_info("y", TP.FLOAT, DIMS)],
        [nh.from_array(np.array(0.99, np.float32), "freq")],
    )  # fmt: skip
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    embed_in_onnx(model, ModelSpec(
        task="custom", inputs=[TensorSpec("x", "float32", DIMS)],
        outputs=[TensorSpec("y", "float32", DIMS)], image=ImageConvention(range=(0.0, 1000.0)),
    ))  # fmt: skip
    onnx.save(model, str(tmp_path / "m.onnx"))
    report = convert_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", samples=2)
    assert "FP16 steps 0.5 rad" in report.kept_fp32["sin"]
    assert "argument of 'sin'" in report.kept_fp32["scale"] and "out" not in report.kept_fp32
    assert report.debug is None and report.check["passed"]

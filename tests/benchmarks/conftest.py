"""Tiny real ONNX models for the benchmark tests (built with onnx.helper, run by ONNX Runtime)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx


def _scale_model(batch, size: int = 16) -> onnx.ModelProto:
    """y = relu(x * 2 - 0.5) on a [batch, 3, size, size] float input."""
    shape = [batch, 3, size, size]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["m"]),
        helper.make_node("Sub", ["m", "half"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "scale", [x], [y], [two, half])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.fixture
def dynamic_onnx(tmp_path: Path) -> Path:
    """A dynamic-batch model carrying a ModelSpec whose profile allows batch 1..4."""
    model = _scale_model("batch")
    spec = ModelSpec(
        task="enhance",
        inputs=[TensorSpec("x", "float32", ["batch", 3, 16, 16])],
        outputs=[TensorSpec("y", "float32", ["batch", 3, 16, 16])],
        image=ImageConvention(range=(0.0, 1.0)),
        profile=ShapeProfile(
            min={"x": [1, 3, 16, 16]}, opt={"x": [2, 3, 16, 16]}, max={"x": [4, 3, 16, 16]}
        ),
    )
    embed_in_onnx(model, spec)
    path = tmp_path / "dyn.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture
def static_onnx(tmp_path: Path) -> Path:
    """A foreign model (no spec) with a fixed batch of 1."""
    path = tmp_path / "static.onnx"
    onnx.save(_scale_model(1), str(path))
    return path


@pytest.fixture
def hw_onnx(tmp_path: Path) -> Path:
    """A foreign model whose batch, height and width are all dynamic (no spec)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "hw.onnx"
    onnx.save(model, str(path))
    return path

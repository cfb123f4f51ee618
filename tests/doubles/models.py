"""Tiny ONNX models and real TensorRT-RTX plans of them, for the tests that use the doubles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

NCHW = ["batch", 3, "height", "width"]
SHAPES = "image:1x3x8x8,2x3x16x16,4x3x64x64"


def has_builder() -> bool:
    """True when tensorrt or tensorrt_rtx can build plans here."""
    return any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))


def enhancer_onnx(path: Path, seed: int = 0) -> Path:
    """A small residual enhancer: Conv -> Relu -> Conv, + input; dynamic batch, H, W."""
    rng = np.random.default_rng(seed)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, NCHW)
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, NCHW)
    w1 = numpy_helper.from_array(rng.normal(0, 0.2, (4, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.2, (3, 4, 3, 3)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["image", "w1"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Conv", ["b", "w2"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["image", "c"], ["out"]),
    ]
    graph = helper.make_graph(nodes, "enh", [x], [y], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    spec = ModelSpec(
        task="enhance", family="test", image=ImageConvention(),
        inputs=[TensorSpec("image", "float32", NCHW)], outputs=[TensorSpec("out", "float32", NCHW)],
    )  # fmt: skip
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def build_plan(folder: Path, shapes: str = SHAPES) -> Path:
    """enhance.onnx -> enhance.plan with the real builder (skips without one)."""
    if not has_builder():
        pytest.skip("no TensorRT builder here: pip install 'ptx[tensorrt-rtx]'")
    from ptx.export.trt import build_engine

    onnx_path = enhancer_onnx(folder / "enhance.onnx")
    build_engine(onnx_path, folder / "enhance.plan", shapes=shapes, opt_level=0)
    return folder / "enhance.plan"

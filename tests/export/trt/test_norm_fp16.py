"""Norms, softmax, reductions and Pow stay FP32 behind Casts, and TensorRT builds the result."""

from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from ptx.export.precision.convert import convert_fp16
from ptx.export.precision.graph import node_precisions
from ptx.export.trt import build_engine
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))
DIMS = ["batch", 3, "height", "width"]
STATS = {
    "inorm": "InstanceNormalization", "gnorm": "GroupNormalization",
    "lnorm": "LayerNormalization", "softmax": "Softmax", "mean": "ReduceMean",
    "sum": "ReduceSum", "pow": "Pow",
}  # fmt: skip


def norm_model() -> onnx.ModelProto:
    """Conv -> InstanceNorm -> GroupNorm -> LayerNorm(W) -> Softmax(W) -> mean/sum/Pow -> Conv."""
    rng = np.random.default_rng(0)

    def init(name: str, arr: np.ndarray) -> onnx.TensorProto:
        return nh.from_array(np.asarray(arr, np.float32 if arr.dtype.kind == "f" else arr.dtype),
                             name)  # fmt: skip

    inits = [
        init("w1", rng.normal(0, 0.3, (8, 3, 3, 3))), init("b1", rng.normal(0, 0.1, 8)),
        init("g8", np.ones(8)), init("z8", np.zeros(8)), init("g2", np.ones(2)),
        init("z2", np.zeros(2)), init("w2", rng.normal(0, 0.3, (3, 8, 3, 3))),
        init("ax1", np.array([1], np.int64)), init("two", np.array(2.0)),
    ]  # fmt: skip
    nodes = [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1] * 4, name="conv1"),
        h.make_node("InstanceNormalization", ["c1", "g8", "z8"], ["n1"], name="inorm"),
        h.make_node("GroupNormalization", ["n1", "g2", "z2"], ["n2"], num_groups=2,
                    name="gnorm"),
        h.make_node("LayerNormalization", ["n2", "g8w", "z8w"], ["n3"], axis=-1, name="lnorm"),
        h.make_node("Softmax", ["n3"], ["s"], axis=-1, name="softmax"),
        h.make_node("ReduceMean", ["s", "ax1"], ["m"], name="mean"),
        h.make_node("ReduceSum", ["n3", "ax1"], ["r"], name="sum"),
        h.make_node("Pow", ["r", "two"], ["p"], name="pow"),
        h.make_node("Add", ["n3", "m"], ["a"], name="add"),
        h.make_node("Add", ["a", "p"], ["a2"], name="add2"),
        h.make_node("Conv", ["a2", "w2"], ["c2"], pads=[1] * 4, name="conv2"),
        h.make_node("Tanh", ["c2"], ["y"], name="tanh"),
    ]  # fmt: skip
    graph = h.make_graph(
        nodes, "norms", [h.make_tensor_value_info("x", TP.FLOAT, DIMS)],
        [h.make_tensor_value_info("y", TP.FLOAT, DIMS)], inits,
    )  # fmt: skip
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    # LayerNorm over W needs W-sized scale/bias: a fixed W of 16 keeps that honest.
    for vi in [*model.graph.input, *model.graph.output]:
        vi.type.tensor_type.shape.dim[3].dim_value = 16
    model.graph.initializer.extend([init("g8w", np.ones(16)), init("z8w", np.zeros(16))])
    dims = ["batch", 3, "height", 16]
    embed_in_onnx(model, ModelSpec(
        task="custom", inputs=[TensorSpec("x", "float32", dims)],
        outputs=[TensorSpec("y", "float32", dims)], image=ImageConvention(range=(-1.0, 1.0)),
        profile=ShapeProfile(min={"x": [1, 3, 8, 16]}, opt={"x": [1, 3, 16, 16]},
                             max={"x": [2, 3, 32, 16]}),
    ))  # fmt: skip
    return model


def test_stats_ops_stay_fp32_behind_casts(tmp_path):
    onnx.save(norm_model(), str(tmp_path / "m.onnx"))
    report = convert_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", samples=2)
    kinds = node_precisions(onnx.load(str(tmp_path / "m16.onnx")))
    assert {n: kinds[n] for n in STATS} == dict.fromkeys(STATS, "fp32")
    assert kinds["conv1"] == kinds["conv2"] == "fp16" and report.check["passed"]
    for name, op in STATS.items():
        assert op in report.kept_fp32[name]


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13")
def test_tensorrt_builds_the_mixed_norm_graph(tmp_path):
    onnx.save(norm_model(), str(tmp_path / "m.onnx"))
    convert_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", samples=2)
    report = build_engine(tmp_path / "m16.onnx", tmp_path / "m.plan", opt_level=0)
    assert report.plan_bytes > 0 and report.options["strongly_typed"]

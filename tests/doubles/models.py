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


def sidecar_plan(folder: Path, onnx_path: Path, profiles: list[dict], dtype: str = "float") -> Path:
    """A plan-shaped file and a sidecar naming ``onnx_path``: only the doubles can load it.

    For what the real builder will not make here (two profiles, BF16 IO); the TensorRT
    double finds the ONNX through the sidecar as it does for a real plan.
    """
    import hashlib
    import json

    import trt_double

    plan = folder / f"fake-{len(profiles)}-{dtype}.plan"
    plan.write_bytes(b"vtrt" + hashlib.sha256(str(plan).encode()).digest())
    io = {"name": "image", "dtype": dtype, "shape": [-1, 3, -1, -1]}
    onnx_sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    sidecar = {
        "flavour": "rtx", "trt_version": trt_double.__version__,
        "plan_sha256": hashlib.sha256(plan.read_bytes()).hexdigest(),
        "onnx": {"path": str(onnx_path), "sha256": onnx_sha},
        "inputs": [io], "outputs": [{**io, "name": "out"}], "profiles": profiles,
        "compute_capabilities": ["8.0", "8.6", "8.9", "12.0+"],
    }  # fmt: skip
    plan.with_name(plan.name + ".json").write_text(json.dumps(sidecar))
    return plan


def profile(lo: tuple, opt: tuple, hi: tuple) -> dict:
    """One sidecar profile entry for the input ``image``."""
    return {"image": {"min": list(lo), "opt": list(opt), "max": list(hi)}}

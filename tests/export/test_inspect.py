"""ptx inspect for .onnx and .plan: IO, precision counts, sidecar, refusing foreign plans."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from ptx.cli import main
from ptx.errors import ModelError
from ptx.export.onnx_inspect import inspect_model
from ptx.export.precision.convert import convert_fp16
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))
no_builder = pytest.mark.skipif(
    not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13"
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inspect")
    dims = ["batch", 3, "height", "width"]
    x = h.make_tensor_value_info("image", TP.FLOAT, dims)
    y = h.make_tensor_value_info("out", TP.FLOAT, dims)
    w = nh.from_array(np.random.default_rng(0).normal(0, 0.3, (3, 3, 3, 3)).astype(np.float32), "w")
    nodes = [
        h.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        h.make_node("Exp", ["c"], ["e"], name="exp"),
        h.make_node("Sigmoid", ["e"], ["out"], name="squash"),
    ]
    model = h.make_model(
        h.make_graph(nodes, "m", [x], [y], [w]), opset_imports=[h.make_opsetid("", 17)]
    )
    embed_in_onnx(
        model,
        ModelSpec(
            task="enhance",
            inputs=[TensorSpec("image", "float32", dims)],
            outputs=[TensorSpec("out", "float32", dims)],
            image=ImageConvention(),
        ),
    )
    onnx.save(model, str(folder / "m.onnx"))
    convert_fp16(folder / "m.onnx", folder / "m16.onnx", samples=2)
    return folder


def test_inspect_onnx_counts_precision(models):
    fp32 = inspect_model(models / "m.onnx")
    assert fp32["precision"] == {"fp16": 0, "fp32": 3, "cast": 0, "other": 0}
    half = inspect_model(models / "m16.onnx")
    assert half["precision"]["fp16"] == 2 and half["precision"]["fp32"] == 1  # Exp stays FP32
    assert half["precision"]["cast"] >= 2 and half["spec"]["precision"] == "mixed"
    assert half["inputs"][0]["dynamic"] == {0: "batch", 2: "height", 3: "width"}
    assert half["ops"]["Conv"] == 1


def test_cli_inspect_json_and_bad_file(models, tmp_path):
    result = CliRunner().invoke(main, ["inspect", str(models / "m16.onnx"), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["kind"] == "onnx"
    (tmp_path / "x.onnx").write_bytes(b"\x00garbage")
    bad = CliRunner().invoke(main, ["inspect", str(tmp_path / "x.onnx")])
    assert bad.exit_code == 2 and bad.stderr.startswith("error:") and bad.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def plan(models):
    from ptx.export.trt import build_engine

    out = models / "m.plan"
    build_engine(
        models / "m16.onnx", out, shapes="image:1x3x16x16,1x3x32x32,2x3x64x64", opt_level=0
    )
    return out


@pytest.mark.tensorrt
@no_builder
def test_inspect_plan_shows_sidecar_and_what_needs_a_gpu(plan):
    info = inspect_model(plan)
    assert info["kind"] == "plan" and info["sidecar"]["spec"]["task"] == "enhance"
    assert info["sidecar"]["profiles"][0]["image"]["max"] == [2, 3, 64, 64]
    from ptx.export.trt.inspect_plan import cuda_gpu_count

    if cuda_gpu_count() == 0:
        assert info["engine"]["read"] is False and "GPU" in info["engine"]["reason"]
    else:
        assert info["engine"]["read"] and info["engine"]["tensors"]
    result = CliRunner().invoke(main, ["inspect", str(plan), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["sha256"] == info["sha256"]


@pytest.mark.tensorrt
@no_builder
@pytest.mark.parametrize("change, text", [
    ({"trt_version": "0.9.0"}, "but tensorrt_rtx"),
    ({"flavour": "tensorrt", "trt_module": "tensorrt", "trt_version": "10.13.0"},
     "built by tensorrt 10.13.0"),
])  # fmt: skip
def test_plan_from_another_flavour_or_version_is_refused(plan, tmp_path, change, text):
    from ptx.formats.tensorrt import installed

    side = json.loads((plan.parent / "m.plan.json").read_text())
    if side["flavour"] != "rtx" or "tensorrt" in installed():
        pytest.skip("the crafted sidecars assume only tensorrt_rtx is installed")
    copy = tmp_path / "other.plan"
    copy.write_bytes(plan.read_bytes())
    (tmp_path / "other.plan.json").write_text(json.dumps({**side, **change}))
    result = CliRunner().invoke(main, ["inspect", str(copy)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert text in result.stderr and "ptx build --onnx" in result.stderr


@pytest.mark.tensorrt
@no_builder
def test_plan_without_sidecar_and_mismatched_plan(plan, tmp_path):
    bare = tmp_path / "bare.plan"
    bare.write_bytes(plan.read_bytes())
    info = inspect_model(bare)
    assert info["sidecar"] is None and "no sidecar" in info["note"]
    assert info["magic_suggests"] in ("rtx", "tensorrt")
    (tmp_path / "bare.plan.json").write_text((plan.parent / "m.plan.json").read_text())
    bare.write_bytes(plan.read_bytes()[:-16] + b"\x00" * 16)
    with pytest.raises(ModelError, match="does not match its sidecar"):
        inspect_model(bare)


def test_dtype_names_are_ptx_names_else_onnx_names(tmp_path):
    from ptx.export.onnx_inspect import dtype_name

    assert [dtype_name(c) for c in (TP.FLOAT, TP.FLOAT16, TP.INT64, TP.BOOL)] == [
        "float32", "float16", "int64", "bool",
    ]  # fmt: skip
    assert dtype_name(TP.BFLOAT16) == "bfloat16" and dtype_name(TP.STRING) == "string"
    x = h.make_tensor_value_info("x", TP.BFLOAT16, ["n", 4])
    y = h.make_tensor_value_info("y", TP.BFLOAT16, ["n", 4])
    model = h.make_model(
        h.make_graph([h.make_node("Identity", ["x"], ["y"], name="id")], "b", [x], [y]),
        opset_imports=[h.make_opsetid("", 18)],
    )
    onnx.save(model, str(tmp_path / "b.onnx"))
    info = inspect_model(tmp_path / "b.onnx")
    assert info["inputs"][0] == {
        "name": "x", "dtype": "bfloat16", "shape": ["n", 4], "dynamic": {0: "n"},
    }  # fmt: skip

"""ptx triton: every generated config.pbtxt parses as Triton's ModelConfig protobuf."""

from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from google.protobuf import text_format
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh
from tritonclient.grpc import model_config_pb2 as mc

from ptx.cli import main
from ptx.errors import InputError
from ptx.export.precision.convert import convert_fp16
from ptx.export.triton import write_repository

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))


def _parse(path) -> mc.ModelConfig:
    return text_format.Parse(path.read_text(), mc.ModelConfig())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("triton")
    dims = ["batch", 3, "height", "width"]
    x = h.make_tensor_value_info("image", TP.FLOAT, dims)
    label = h.make_tensor_value_info("label", TP.INT64, ["batch"])
    y = h.make_tensor_value_info("out", TP.FLOAT, dims)
    rng = np.random.default_rng(1)
    inits = [
        nh.from_array(rng.normal(0, 0.3, (3, 3, 3, 3)).astype(np.float32), "w"),
        nh.from_array(rng.normal(0, 1, (4, 3)).astype(np.float32), "table"),
        nh.from_array(np.array([-1, 3, 1, 1], np.int64), "shape4"),
    ]
    nodes = [
        h.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        h.make_node("Gather", ["table", "label"], ["e"], name="embed"),
        h.make_node("Reshape", ["e", "shape4"], ["e4"], name="e4"),
        h.make_node("Add", ["c", "e4"], ["out"], name="add"),
    ]
    model = h.make_model(
        h.make_graph(nodes, "g", [x, label], [y], inits), opset_imports=[h.make_opsetid("", 17)]
    )
    onnx.save(model, str(folder / "gen.onnx"))
    convert_fp16(folder / "gen.onnx", folder / "gen16.onnx", samples=1, fp16_io=True)
    return folder


def test_onnx_gpu_config_parses_with_tensorrt_accelerator(models, tmp_path):
    report = write_repository(
        models / "gen16.onnx", tmp_path, name="gen", max_batch=8, instances=3, delay_us=250
    )
    cfg = _parse(tmp_path / "gen" / "config.pbtxt")
    assert (tmp_path / "gen" / "1" / "model.onnx").read_bytes() == (
        models / "gen16.onnx"
    ).read_bytes()
    assert cfg.platform == "onnxruntime_onnx" and cfg.max_batch_size == 8
    image = cfg.input[0]
    assert image.data_type == mc.TYPE_FP16 and list(image.dims) == [3, -1, -1]
    label = cfg.input[1]
    assert label.data_type == mc.TYPE_INT64 and list(label.dims) == [1]
    assert label.HasField("reshape") and list(label.reshape.shape) == []
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 250
    assert (
        cfg.instance_group[0].count == 3
        and cfg.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU
    )
    accel = cfg.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert accel.name == "tensorrt" and accel.parameters["precision_mode"] == "FP16"
    assert report.platform == "onnxruntime_onnx"


def test_onnx_cpu_config_and_static_batch(models, tmp_path):
    write_repository(models / "gen.onnx", tmp_path, kind="cpu")
    cfg = _parse(tmp_path / "gen" / "config.pbtxt")
    assert cfg.instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU
    assert not cfg.optimization.HasField("execution_accelerators")
    assert cfg.input[0].data_type == mc.TYPE_FP32
    x = h.make_tensor_value_info("x", TP.FLOAT, [1, 3, 8, 8])
    y = h.make_tensor_value_info("y", TP.FLOAT, [1, 3, 8, 8])
    static = h.make_model(
        h.make_graph([h.make_node("Relu", ["x"], ["y"])], "s", [x], [y]),
        opset_imports=[h.make_opsetid("", 17)],
    )
    onnx.save(static, str(tmp_path / "static.onnx"))
    write_repository(tmp_path / "static.onnx", tmp_path / "repo", max_batch=32)
    cfg = _parse(tmp_path / "repo" / "static" / "config.pbtxt")
    assert cfg.max_batch_size == 0 and list(cfg.input[0].dims) == [1, 3, 8, 8]
    assert not cfg.HasField("dynamic_batching")


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13")
def test_plan_config_parses_and_respects_the_profile(models, tmp_path):
    from ptx.export.trt import build_engine

    plan = tmp_path / "gen.plan"
    build_engine(
        models / "gen16.onnx", plan, shapes="image:1x3x16x16,2x3x32x32,4x3x64x64", opt_level=0
    )
    result = CliRunner().invoke(
        main,
        [
            "triton",
            "--model",
            str(plan),
            "--repo",
            str(tmp_path / "repo"),
            "--max-batch",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    cfg = _parse(tmp_path / "repo" / "gen" / "config.pbtxt")
    assert cfg.platform == "tensorrt_plan" and cfg.max_batch_size == 4
    assert cfg.input[0].data_type == mc.TYPE_FP16 and list(cfg.input[0].dims) == [3, -1, -1]
    assert (tmp_path / "repo" / "gen" / "1" / "model.plan").stat().st_size == plan.stat().st_size
    with pytest.raises(InputError, match="exceeds the plan's profile max batch 4"):
        write_repository(plan, tmp_path / "repo2", max_batch=32)
    with pytest.raises(InputError, match="GPU only"):
        write_repository(plan, tmp_path / "repo2", max_batch=4, kind="cpu")
    assert not (tmp_path / "repo2").exists()


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("float32", "TYPE_FP32"),
        ("float", "TYPE_FP32"),  # a plan sidecar writes TensorRT's names
        ("half", "TYPE_FP16"),
        ("INT64", "TYPE_INT64"),
        ("int8", "TYPE_INT8"),
        ("bool", "TYPE_BOOL"),
        ("bfloat16", "TYPE_BF16"),  # Triton serves it though NumPy has no such dtype
        ("bf16", "TYPE_BF16"),
    ],
)
def test_triton_types_come_from_the_one_dtype_vocabulary(name, want):
    from ptx.export.triton import triton_type
    from ptx.tensors import DTYPES, dtype

    assert triton_type(name, "t") == want
    if name not in ("bfloat16", "bf16"):
        assert want == dtype(name).triton and want in {d.triton for d in DTYPES.values()}


def test_a_dtype_triton_cannot_hold_is_one_line():
    from ptx.export.triton import triton_type

    with pytest.raises(InputError, match="tensor 'names' has dtype string with no Triton type"):
        triton_type("string", "names")


@pytest.mark.parametrize("name", ["..", ".", "../outside", "a/b", ".hidden", "", "x" * 200])
def test_names_that_leave_the_repository_are_refused(models, tmp_path, name):
    repo = tmp_path / "inner" / "repo"
    with pytest.raises(InputError, match="--name"):
        write_repository(models / "gen.onnx", repo, name=name, kind="cpu")
    assert not (tmp_path / "inner").exists() or not any((tmp_path / "inner").rglob("*.onnx"))


def test_derived_name_of_a_dotted_stem_stays_inside(models, tmp_path):
    odd = tmp_path / "..odd name.onnx"
    odd.write_bytes((models / "gen.onnx").read_bytes())
    report = write_repository(odd, tmp_path / "repo", kind="cpu")
    assert report.model_dir == str(tmp_path / "repo" / "odd_name")


def test_tensor_names_are_escaped_in_the_config(tmp_path):
    weird = 'in"}\ninput [ { name: "evil'
    x = h.make_tensor_value_info(weird, TP.FLOAT, ["batch", 4])
    y = h.make_tensor_value_info("o\\ut\t", TP.FLOAT, ["batch", 4])
    model = h.make_model(
        h.make_graph([h.make_node("Relu", [weird], ["o\\ut\t"])], "g", [x], [y]),
        opset_imports=[h.make_opsetid("", 17)],
    )
    onnx.save(model, str(tmp_path / "weird.onnx"))
    report = write_repository(tmp_path / "weird.onnx", tmp_path / "repo", kind="cpu")
    cfg = _parse(tmp_path / "repo" / "weird" / "config.pbtxt")  # before: a parse error
    assert [t.name for t in cfg.input] == [weird] and [t.name for t in cfg.output] == ["o\\ut\t"]
    assert report.max_batch_size == 32

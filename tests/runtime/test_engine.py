"""ptx.runtime.load and the ONNX Runtime engine: IO, spec, dtypes, feed errors, bad files."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from ptx.errors import InputError, ModelError, SpecError
from ptx.runtime import load, pick_backend
from ptx.runtime.cpu import physical_cores, usable_cpus
from ptx.spec import ImageConvention, ModelSpec


def test_load_runs_and_matches_a_bare_session(models):
    engine = load(models["affine"])
    assert engine.backend == "onnxruntime"
    assert [t.name for t in engine.inputs] == ["image"]
    assert [t.name for t in engine.outputs] == ["out"]
    assert engine.inputs[0].dtype == np.float32
    assert engine.inputs[0].shape == ("batch", 3, "height", "width")
    assert engine.inputs[0].is_dynamic(0) and not engine.inputs[0].is_dynamic(1)
    x = np.random.default_rng(0).random((3, 3, 10, 6), dtype=np.float32)
    got = engine.run({"image": x})["out"]
    bare = ort.InferenceSession(str(models["affine"]), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(got, bare.run(None, {"image": x})[0])
    np.testing.assert_allclose(got, x * 0.5 + 0.25, rtol=1e-6)
    np.testing.assert_array_equal(engine(x)["out"], got)  # positional binding
    assert "image" in engine.describe() and "onnxruntime" in engine.describe()


def test_spec_is_read_from_metadata_and_foreign_model_has_none(models):
    spec = load(models["swap"]).spec
    assert isinstance(spec, ModelSpec)
    assert spec.task == "enhance" and spec.image == ImageConvention(multiple_of=8)
    assert load(models["foreign"]).spec is None


def test_newer_spec_version_is_one_clear_error(tmp_path, helpers):
    import json

    import onnx

    path = helpers.affine_model(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    data = json.loads(model.metadata_props[0].value)
    data["version"] = 999
    model.metadata_props[0].value = json.dumps(data)
    onnx.save(model, str(path))
    with pytest.raises(SpecError, match="version 999 is newer") as info:
        load(path)
    assert "\n" not in str(info.value)


def test_threads_option_and_default_physical_cores(models):
    assert load(models["affine"], threads=1).threads == 1
    assert load(models["affine"]).threads == physical_cores()
    assert 1 <= physical_cores() <= len(usable_cpus())
    with pytest.raises(ModelError, match="threads must be >= 1"):
        load(models["affine"], threads=0)
    with pytest.raises(ModelError, match="unknown device"):
        load(models["affine"], device="tpu")


def test_float64_and_float32_are_cast_and_other_dtypes_rejected(models):
    engine = load(models["affine"])
    x = np.random.default_rng(1).random((1, 3, 4, 4))  # float64
    np.testing.assert_allclose(engine.run({"image": x})["out"], x * 0.5 + 0.25, rtol=1e-6)
    fp16 = load(models["fp16"])
    y = fp16.run({"image": x.astype(np.float32)})["out"]
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, x * 0.5 + 0.25, atol=2e-3)
    with pytest.raises(InputError, match="input 'image' needs float32, got int64"):
        engine.run({"image": np.ones((1, 3, 4, 4), dtype=np.int64)})


def test_check_feeds_names_the_problem(models):
    engine = load(models["two"])
    a = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(InputError, match=r"inputs \['a', 'b'\] expected, got \['a'\]"):
        engine.run({"a": a})
    with pytest.raises(InputError, match=r"got \['a', 'b', 'c'\]"):
        engine.run({"a": a, "b": a, "c": a})
    with pytest.raises(InputError, match="input 'b' needs rank 4"):
        engine.run({"a": a, "b": a[0]})
    with pytest.raises(InputError, match="input 'a' axis 2 must be 8, got 9"):
        engine.run({"a": np.zeros((1, 3, 9, 8), np.float32), "b": a})
    with pytest.raises(InputError, match="3 arrays given, model has 2 inputs"):
        engine(a, a, a)
    np.testing.assert_array_equal(engine(a, b=a + 1)["out"], a + 1)


def test_graph_failure_is_a_model_error_line(models):
    engine = load(models["swap"])  # SpaceToDepth(8) rejects a height of 12
    with pytest.raises(ModelError, match="ONNX Runtime failed:.*multiple of") as info:
        engine.run({"image": np.zeros((1, 3, 12, 8), np.float32)})
    assert "\n" not in str(info.value)


def test_closed_engine_says_so(models):
    with load(models["affine"]) as engine:
        pass
    with pytest.raises(ModelError, match="engine is closed"):
        engine.run({"image": np.zeros((1, 3, 2, 2), np.float32)})


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("missing.onnx", None, "no such model file"),
        ("folder.onnx", "dir", "is a folder"),
        ("zero.onnx", b"", "empty file"),
        ("truncated.onnx", "truncate", "not a valid ONNX model"),
        ("notes.onnx", b"just some text renamed to .onnx\n" * 4, "not a valid ONNX model"),
        ("model.plan", b"\x00plan bytes", "not a TensorRT plan.*ptx build"),
        ("weights.pt", b"torch", "unknown model type '.pt'.*export it to ONNX"),
    ],
)
def test_wrong_model_files_are_one_model_error_line(tmp_path, models, name, make, message):
    path = tmp_path / name
    if make == "dir":
        path.mkdir()
    elif make == "truncate":
        data = models["swap"].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif make is not None:
        path.write_bytes(make)
    with pytest.raises(ModelError, match=message) as info:
        load(path)
    assert "\n" not in str(info.value) and name in str(info.value)


def test_backend_choice(models):
    assert pick_backend("m.onnx") == "onnxruntime"
    assert pick_backend("m.plan") == "tensorrt"
    assert load(models["affine"], backend="onnxruntime").backend == "onnxruntime"
    assert load(models["affine"], backend="openvino").backend == "openvino"
    with pytest.raises(InputError, match="unknown backend 'nope'"):
        load(models["affine"], backend="nope")
    with pytest.raises(ModelError, match="cannot run on onnxruntime"):
        pick_backend("m.plan", "onnxruntime")


def test_capabilities_are_declared_not_probed(models):
    import ptx.runtime
    from ptx.runtime.backends.onnxruntime.cuda import OnnxRuntimeCudaEngine
    from ptx.runtime.backends.tensorrt import TensorRTEngine
    from ptx.runtime.engine import Engine
    from ptx.tensors import TensorInfo

    engine = load(models["affine"], backend="onnxruntime")
    assert engine.device == "cpu" and engine.choice is None and not engine.device_arrays
    assert engine.prepare({"image": (1, 3, 8, 8)}) is False  # nothing to get ready
    with pytest.raises(ModelError, match="has no GPU path"):
        engine.run_device({})
    assert TensorRTEngine.device_arrays and OnnxRuntimeCudaEngine.device_arrays
    assert not Engine.device_arrays and Engine.choice is None
    assert ptx.runtime.TensorInfo is TensorInfo  # the one TensorInfo, re-exported
    assert ptx.runtime.engine.TensorInfo is TensorInfo


def test_options_are_typed_dataclasses(models):
    from ptx.runtime.backends.onnxruntime import OnnxRuntimeEngine
    from ptx.runtime.backends.onnxruntime.engine import OnnxRuntimeOptions

    engine = OnnxRuntimeEngine(models["affine"], options=OnnxRuntimeOptions(spin=False))
    assert engine.settings == OnnxRuntimeOptions(spin=False)
    assert OnnxRuntimeOptions.names() == ["spin"]
    with pytest.raises(InputError, match="unknown engine option.*contexts.*it takes: spin"):
        OnnxRuntimeEngine(models["affine"], contexts=2)
    with pytest.raises(InputError, match="spin='no': needs bool"):
        load(models["affine"], backend="onnxruntime", spin="no")


def test_a_tensor_type_outside_the_vocabulary_is_one_model_error(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["s"], ["t"])],
        "strings",
        [helper.make_tensor_value_info("s", TensorProto.STRING, [2])],
        [helper.make_tensor_value_info("t", TensorProto.STRING, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "s.onnx"))
    with pytest.raises(ModelError, match="tensor 's'.*tensor\\(string\\)") as info:
        load(tmp_path / "s.onnx", backend="onnxruntime")
    assert "\n" not in str(info.value)

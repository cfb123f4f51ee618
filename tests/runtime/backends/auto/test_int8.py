"""The INT8 rung of the ladder: the copy beside the model, the gate, the cache, the mask."""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ptx.errors import InputError
from ptx.runtime import load
from ptx.runtime.backends.auto import cache as choice_cache
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.backends.auto import select
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx
from tests.runtime.backends.auto.test_precision import cpu, fake_timings

INT8_OV = ("FP32", "INT8")  # an OpenVINO CPU device with INT8 and no BF16

pytest.importorskip("openvino")
VNNI_CPU = {"model": "vnni CPU", "matrix": [], "vector": ["avx2", "avx512f", "avx512_vnni"]}
OLD_CPU = {"model": "old CPU", "matrix": [], "vector": ["avx2", "fma"]}
SHAPE = [1, 3, 8, 8]


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.delenv("PTX_PRECISIONS", raising=False)
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)


def _model(path, nodes, inits, source_sha: str | None = None):
    graph = helper.make_graph(
        nodes,
        "m",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, SHAPE)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, SHAPE)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    io = {"inputs": [TensorSpec("image", "float32", SHAPE)]}
    spec = ModelSpec(task="custom", image=ImageConvention(), **io,
                     outputs=[TensorSpec("out", "float32", SHAPE)])  # fmt: skip
    embed_in_onnx(model, spec)
    if source_sha is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = ladder.INT8_SOURCE_KEY, source_sha
    onnx.save(model, str(path))
    return path


def source_model(path):
    """out = 0.5 * image (an image model with a spec)."""
    half = numpy_helper.from_array(np.float32(0.5), "half")
    return _model(path, [helper.make_node("Mul", ["image", "half"], ["out"])], [half])


def int8_copy(src, levels: int):
    """Its INT8 copy beside it: the image through 8-bit Q/DQ with ``levels`` steps over 0..1.

    255 levels keeps every pixel (it passes the gate); 8 levels is a posterised picture.
    """
    scale = numpy_helper.from_array(np.float32(1.0 / levels), "scale")
    zero = numpy_helper.from_array(np.uint8(0), "zero")
    half = numpy_helper.from_array(np.float32(0.5), "half")
    nodes = [
        helper.make_node("QuantizeLinear", ["image", "scale", "zero"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"]),
        helper.make_node("Mul", ["dq", "half"], ["out"]),
    ]
    return _model(ladder.int8_path(src), nodes, [scale, zero, half], ladder.model_digest(src))


def test_auto_takes_int8_when_it_passes_and_is_faster(tmp_path, monkeypatch):
    cpu(monkeypatch, VNNI_CPU, INT8_OV)
    src = source_model(tmp_path / "m.onnx")
    copy = int8_copy(src, 255)
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:int8": 4.0})
    engine = load(src, threads=1)
    assert calls == [["onnxruntime", "openvino", "openvino:int8"]]
    choice = engine.choice
    assert (choice.backend, choice.precision, engine.path) == ("openvino", "int8", copy)
    assert choice.parity["openvino:int8"].startswith("PSNR") and "int8 passed the gate" in (
        choice.precision_note
    )
    again = load(src, threads=1)
    assert again.choice.cached and again.path == copy and len(calls) == 1


def test_int8_that_fails_the_gate_keeps_the_safe_choice(tmp_path, monkeypatch, caplog):
    cpu(monkeypatch, VNNI_CPU, INT8_OV)
    src = source_model(tmp_path / "m.onnx")
    int8_copy(src, 8)  # posterised: far below 45 dB
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 12.0, "openvino:int8": 1.0})
    with caplog.at_level(logging.WARNING, logger="ptx.runtime"):
        engine = load(src, threads=1)
    assert "openvino:int8" not in calls[0]  # dropped before the timing
    assert (engine.choice.backend, engine.choice.precision) == ("onnxruntime", "fp32")
    assert "openvino:int8 failed: parity PSNR" in engine.choice.precision_note
    assert "fails the gate" in engine.choice.precision_note
    (line,) = [r.getMessage() for r in caplog.records if "openvino:int8" in r.getMessage()]
    assert "\n" not in line and "using onnxruntime" in line


def test_a_new_int8_copy_is_measured_again(tmp_path, monkeypatch):
    cpu(monkeypatch, VNNI_CPU, INT8_OV)
    src = source_model(tmp_path / "m.onnx")
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:int8": 4.0})
    first = load(src, threads=1)
    assert calls == [["onnxruntime", "openvino"]] and first.choice.precision == "fp32"
    assert "no int8: no INT8 model m.int8.onnx beside m.onnx (make it with: ptx convert" in (
        first.choice.precision_note
    )
    assert load(src, threads=1).choice.cached and len(calls) == 1
    int8_copy(src, 255)  # ptx convert --precision int8 ran since: the cached answer is stale
    second = load(src, threads=1)
    assert len(calls) == 2 and not second.choice.cached and second.choice.precision == "int8"


def test_an_int8_choice_from_another_cpu_is_measured_again(tmp_path, monkeypatch, caplog):
    cpu(monkeypatch, VNNI_CPU, INT8_OV)
    src = source_model(tmp_path / "m.onnx")
    int8_copy(src, 255)
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:int8": 4.0})
    load(src, threads=1)
    cache = src.with_name("m.onnx" + choice_cache.CACHE_SUFFIX)
    doc = json.loads(cache.read_text())
    (entry,) = doc["choices"].values()
    entry["fingerprint"] = {**entry["fingerprint"], "matrix": ["amx_tile", "amx_int8"]}
    cache.write_text(json.dumps(doc))  # "int8 won on an AMX part": not this CPU's answer
    with caplog.at_level(logging.WARNING, logger="ptx.runtime"):
        engine = load(src, threads=1)
    assert len(calls) == 2 and not engine.choice.cached
    (line,) = [r.getMessage() for r in caplog.records if "another CPU" in r.getMessage()]
    assert "amx_int8" in line and "\n" not in line


def test_int8_the_cpu_lacks_or_a_mask_is_one_line_and_fp32(tmp_path, monkeypatch):
    src = source_model(tmp_path / "m.onnx")
    int8_copy(src, 255)
    cpu(monkeypatch, OLD_CPU, INT8_OV)
    with pytest.raises(InputError) as info:
        load(src, precision="int8")
    assert str(info.value) == (
        "precision int8: this CPU (old CPU) has no avx512_vnni or avx_vnni or amx_int8; "
        "use --precision fp32 (or auto)"
    )
    cpu(monkeypatch, VNNI_CPU, INT8_OV)
    monkeypatch.setenv("PTX_PRECISIONS", "fp32")  # the operator tells OpenVINO: f32 only
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:int8": 4.0})
    engine = load(src, threads=1)
    assert calls == [["onnxruntime", "openvino"]] and engine.choice.precision == "fp32"
    assert "no int8: masked: PTX_PRECISIONS=fp32" in engine.choice.precision_note
    assert engine.inference_precision == "f32"  # the plain f32 OpenVINO engine
    with pytest.raises(InputError, match="precision int8: masked: PTX_PRECISIONS=fp32"):
        load(src, precision="int8")

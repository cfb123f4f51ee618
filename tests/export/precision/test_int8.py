"""INT8 through NNCF: real quantization of tiny models, the gate, refusal, the runtime's view."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from ptx.errors import ExportError, InputError
from ptx.export.cli.convert import convert
from ptx.export.precision.int8 import quantize_int8
from ptx.io import write_image
from ptx.runtime import load
from ptx.runtime.backends.auto import precision as ladder
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx, spec_from_onnx

pytest.importorskip("nncf")
pytest.importorskip("openvino")
SIDE = 16


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)


def conv_model(path, seed: int = 0):
    """A small darkening filter: conv 3x3 (3->8), ReLU, conv 1x1 (8->3); pixels in 0..1.

    Close to 0.45 x identity: INT8 holds it within the gate.
    """
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.02).astype(np.float32)
    w1[np.arange(8), np.arange(8) % 3, 1, 1] += 0.45
    w2 = np.zeros((3, 8, 1, 1), np.float32)
    w2[np.arange(8) % 3, np.arange(8), 0, 0] = 1.0 / np.bincount(np.arange(8) % 3)[np.arange(8) % 3]
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w1"], ["h"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("Conv", ["r", "w2"], ["out"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    return _save(graph, path, "image", "out", [1, 3, SIDE, SIDE], ImageConvention())


def fine_detail_model(path):
    """y = 1000 (x @ (W + 1e-3) - x @ W): 8-bit activations cannot hold the 1e-3 difference."""
    w = np.full((16, 16), 1.0, np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["a"]),
            helper.make_node("MatMul", ["x", "w0"], ["b"]),
            helper.make_node("Sub", ["a", "b"], ["d"]),
            helper.make_node("Mul", ["d", "k"], ["y"]),
        ],
        "fine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 16])],
        [numpy_helper.from_array(w + 1e-3, "w1"), numpy_helper.from_array(w, "w0"),
         numpy_helper.from_array(np.float32(1000.0), "k")],
    )  # fmt: skip
    return _save(graph, path, "x", "y", [4, 16], None)


def _save(graph, path, x: str, y: str, shape: list, conv: ImageConvention | None):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    io = {"inputs": [TensorSpec(x, "float32", shape)], "outputs": [TensorSpec(y, "float32", shape)]}
    embed_in_onnx(model, ModelSpec(task="custom", image=conv, **io))
    onnx.save(model, str(path))
    return path


def test_quantize_writes_a_gated_int8_copy_beside_the_source(tmp_path):
    src = conv_model(tmp_path / "m.onnx")
    report = quantize_int8(src, samples=4)
    dst = tmp_path / "m.int8.onnx"
    assert report.dst == str(dst) and dst.is_file()
    model = onnx.load(str(dst))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") == report.quantizers > 0  # real NNCF Q/DQ nodes
    assert report.checked_on == "openvino" and report.parity.startswith("PSNR")
    assert float(report.parity.split()[1]) >= ladder.PSNR_MIN_DB
    spec = spec_from_onnx(model)  # the spec travels, with the quantizer's version
    assert spec is not None and spec.image is not None and "nncf" in spec.producer
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[ladder.INT8_SOURCE_KEY] == ladder.model_digest(src)
    assert ladder.int8_status(src) == (dst, "")
    engine = load(src, backend="openvino", precision="int8")  # the runtime runs the copy
    assert engine.path == dst and engine.precision == "i8"
    x = np.random.default_rng(1).random((1, 3, SIDE, SIDE), dtype=np.float32)
    ref = load(src, backend="onnxruntime").run({"image": x})
    assert ladder.gate(spec, ref, engine.run({"image": x}))[0]


def test_int8_that_fails_the_gate_is_refused_and_nothing_written(tmp_path):
    src = fine_detail_model(tmp_path / "fine.onnx")
    with pytest.raises(ExportError) as info:
        quantize_int8(src, samples=2, restore=False)
    line = str(info.value)
    assert "\n" not in line and "INT8 fails the parity gate on openvino: rel L2" in line
    assert "tried plain (--no-debug-precision)" in line and "nothing written" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine.onnx"]  # no half-written copy
    with pytest.raises(ExportError) as info:  # accuracy control must revert every layer
        quantize_int8(src, samples=2)
    assert "only with every layer FP32" in str(info.value) and "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine.onnx"]


def test_stale_or_missing_copy_is_one_line_and_never_run(tmp_path):
    src = conv_model(tmp_path / "m.onnx")
    with pytest.raises(InputError, match=r"no INT8 model m.int8.onnx beside m.onnx \(make it"):
        load(src, backend="openvino", precision="int8")
    quantize_int8(src, samples=2)
    conv_model(src, seed=5)  # the source was re-exported: the copy is of another model
    found, why = ladder.int8_status(src)
    assert found is None and "quantized from another version of m.onnx" in why
    with pytest.raises(InputError) as info:
        load(src, precision="int8")
    assert "\n" not in str(info.value) and "ptx convert --precision int8" in str(info.value)
    with pytest.raises(ExportError, match="already quantized"):
        quantize_int8(tmp_path / "m.int8.onnx", tmp_path / "again.onnx")


def test_cli_int8_with_a_calibration_folder_prints_clean_json(tmp_path):
    src = conv_model(tmp_path / "m.onnx")
    photos = tmp_path / "photos"
    ramp = np.linspace(0, 255, 24 * 20 * 3).reshape(24, 20, 3)  # smooth, the full range
    for k in range(3):
        write_image(photos / f"{k}.png", np.roll(ramp, 7 * k, axis=0).astype(np.uint8))
    args = ["--precision", "int8", "--calibration", str(photos), "--samples", "3", "--json"]
    result = CliRunner().invoke(convert, [*args, str(src)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # NNCF's progress bars went to stderr
    assert doc["calibration"] == str(photos) and doc["samples"] == 3
    assert doc["dst"] == str(tmp_path / "m.int8.onnx")
    bad = CliRunner().invoke(convert, ["--precision", "int8", "--fp16-io", str(src)])
    assert isinstance(bad.exception, InputError) and "--fp16-io: FP16 options" in str(bad.exception)

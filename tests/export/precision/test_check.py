"""The FP16 parity check: emulated FP16 storage, PSNR / relative L2 bars, worst nodes."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from ptx.errors import ExportError
from ptx.export.precision.check import check_fp16
from ptx.export.precision.convert import convert_fp16
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx


def square_model(spec: bool) -> onnx.ModelProto:
    """y = sqrt(mean(x * x)) + 0 * x over H, W: x * x overflows FP16 for |x| > 256."""
    x = h.make_tensor_value_info("x", TP.FLOAT, ["n", 3, "h", "w"])
    y = h.make_tensor_value_info("y", TP.FLOAT, ["n", 3, 1, 1])
    nodes = [
        h.make_node("Mul", ["x", "x"], ["sq"], name="square"),
        h.make_node("ReduceMean", ["sq", "axes"], ["ms"], name="mean"),
        h.make_node("Sqrt", ["ms"], ["y"], name="root"),
    ]
    axes = nh.from_array(np.array([2, 3], np.int64), "axes")
    model = h.make_model(
        h.make_graph(nodes, "rms", [x], [y], [axes]), opset_imports=[h.make_opsetid("", 18)]
    )
    if spec:  # inputs in [0, 600]: the model sees pixel values scaled by 600
        embed_in_onnx(model, ModelSpec(
            task="custom", inputs=[TensorSpec("x", "float32", ["n", 3, "h", "w"])],
            outputs=[TensorSpec("y", "float32", ["n", 3, 1, 1])],
            image=ImageConvention(range=(0.0, 600.0)),
        ))  # fmt: skip
    return model


def _all_half(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxconverter_common.float16 import convert_float_to_float16

    return convert_float_to_float16(model, keep_io_types=True)


def test_cpu_onnxruntime_hides_the_overflow_that_the_check_emulates(tmp_path):
    model = square_model(spec=True)
    half = _all_half(model)
    x = np.full((1, 3, 8, 8), 500.0, np.float32)
    sess = ort.InferenceSession(half.SerializeToString(), providers=["CPUExecutionProvider"])
    (plain,) = sess.run(None, {"x": x})
    assert np.allclose(plain, 500.0, rtol=1e-3)  # ORT computed x*x in FP32 behind our back
    with pytest.raises(ExportError) as err:
        check_fp16(model, half, samples=2)
    assert "square (Mul)" in str(err.value) and "NaN/Inf" in str(err.value)


def test_good_conversion_passes_with_rel_l2_and_a_reference_callable(tmp_path):
    model = square_model(spec=False)  # no spec: values in [0, 1], rel L2 metric
    onnx.save(model, str(tmp_path / "m.onnx"))
    convert_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", samples=2, check=False)
    result = check_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", samples=3)
    assert result.passed and result.outputs[0].metric == "rel_l2"
    assert 0 < result.outputs[0].value < 1e-2  # FP16 is not bit-exact, but close

    def torch_like(feed):  # any FP32 reference, e.g. the PyTorch module
        x = feed["x"].astype(np.float64)
        return {"y": np.sqrt((x * x).mean(axis=(2, 3), keepdims=True))}

    assert check_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", reference=torch_like).passed

    def wrong(feed):
        return {"y": torch_like(feed)["y"] * 1.1}

    with pytest.raises(ExportError, match="rel_l2"):
        check_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", reference=wrong)


def test_failed_file_is_removed_when_asked(tmp_path):
    model = square_model(spec=True)
    path = tmp_path / "half.onnx"
    onnx.save(_all_half(model), str(path))
    with pytest.raises(ExportError, match="psnr"):
        check_fp16(model, path, samples=1, remove_on_fail=True)
    assert not path.exists()

"""Calibrated FP16 conversion: overflow-prone normalisation, Resize, Casts, labels, IO types."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from ptx.cli import main
from ptx.errors import ExportError, InputError, MissingDependency
from ptx.export.precision.calibrate import representative_inputs
from ptx.export.precision.check import check_fp16
from ptx.export.precision.convert import convert_fp16
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx

RNG = np.random.default_rng(7)


def _w(name: str, shape: tuple[int, ...], scale: float) -> onnx.TensorProto:
    return nh.from_array((RNG.normal(0, 1, shape) * scale).astype(np.float32), name)


def _spec(inputs: list[TensorSpec], labels: dict | None = None) -> ModelSpec:
    return ModelSpec(
        task="enhance",
        inputs=inputs,
        outputs=[TensorSpec("y", "float32", ["batch", 3, "height", "width"])],
        image=ImageConvention(range=(0.0, 1.0)),
        labels=labels or {},
        profile=ShapeProfile(
            min={"image": [1, 3, 16, 16]},
            opt={"image": [1, 3, 32, 32]},
            max={"image": [4, 3, 64, 64]},
        ),  # fmt: skip
    )


def norm_model(scale: float = 100.0) -> onnx.ModelProto:
    """Conv with big weights -> InstanceNorm written out (Mul for the square) -> Conv -> Sigmoid.

    |x - mean| reaches the hundreds, so its square overflows FP16's 65504.
    """
    image = h.make_tensor_value_info("image", TP.FLOAT, ["batch", 3, "height", "width"])
    y = h.make_tensor_value_info("y", TP.FLOAT, ["batch", 3, "height", "width"])
    inits = [
        _w("w1", (8, 3, 3, 3), scale), _w("w2", (3, 8, 3, 3), 0.2),
        nh.from_array(np.array([2, 3], np.int64), "axes"),
        nh.from_array(np.array(1e-5, np.float32), "eps"),
    ]  # fmt: skip
    nodes = [
        h.make_node("Conv", ["image", "w1"], ["c"], pads=[1, 1, 1, 1], name="conv1"),
        h.make_node("ReduceMean", ["c", "axes"], ["mu"], name="mean"),
        h.make_node("Sub", ["c", "mu"], ["d"], name="centre"),
        h.make_node("Mul", ["d", "d"], ["d2"], name="square"),
        h.make_node("ReduceMean", ["d2", "axes"], ["var"], name="variance"),
        h.make_node("Add", ["var", "eps"], ["ve"], name="add_eps"),
        h.make_node("Sqrt", ["ve"], ["sd"], name="std"),
        h.make_node("Div", ["d", "sd"], ["n"], name="normalise"),
        h.make_node("Conv", ["n", "w2"], ["o"], pads=[1, 1, 1, 1], name="conv2"),
        h.make_node("Sigmoid", ["o"], ["y"], name="to_image"),
    ]
    g = h.make_graph(nodes, "norm", [image], [y], inits)
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 18)])
    embed_in_onnx(model, _spec([TensorSpec("image", "float32", ["batch", 3, "height", "width"])]))
    return model


def resize_label_model() -> onnx.ModelProto:
    """Conv -> + label embedding (Gather) -> existing Cast -> Resize by 1.3 -> Softmax -> Conv."""
    image = h.make_tensor_value_info("image", TP.FLOAT, ["batch", 3, "height", "width"])
    label = h.make_tensor_value_info("label", TP.INT64, ["batch"])
    y = h.make_tensor_value_info("y", TP.FLOAT, ["batch", 3, "h2", "w2"])
    inits = [
        _w("w1", (8, 3, 3, 3), 0.5), _w("w2", (3, 8, 1, 1), 0.5), _w("table", (5, 8), 1.0),
        nh.from_array(np.array([-1, 8, 1, 1], np.int64), "shape4"),
        nh.from_array(np.array([1, 1, 1.3, 1.3], np.float32), "scales"),
    ]  # fmt: skip
    nodes = [
        h.make_node("Conv", ["image", "w1"], ["c"], pads=[1, 1, 1, 1], name="conv1"),
        h.make_node("Gather", ["table", "label"], ["e"], axis=0, name="embed"),
        h.make_node("Reshape", ["e", "shape4"], ["e4"], name="embed4d"),
        h.make_node("Add", ["c", "e4"], ["ce"], name="condition"),
        h.make_node("Cast", ["ce"], ["cc"], to=TP.FLOAT, name="existing_cast"),
        h.make_node("Resize", ["cc", "", "scales"], ["r"], mode="linear", name="upsample"),
        h.make_node("Softmax", ["r"], ["s"], axis=1, name="softmax"),
        h.make_node("Conv", ["s", "w2"], ["y"], name="conv2"),
    ]
    g = h.make_graph(nodes, "resize", [image, label], [y], inits)
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 18)])
    spec = _spec(
        [TensorSpec("image", "float32", ["batch", 3, "height", "width"]),
         TensorSpec("label", "int64", ["batch"])],
        labels={"label": ["shoe", "bag", "watch", "lamp", "mug"]},
    )  # fmt: skip
    embed_in_onnx(model, spec)
    return model


def _save(model: onnx.ModelProto, path) -> str:
    onnx.save(model, str(path))
    return str(path)


def test_blind_fp16_overflows_but_calibrated_conversion_passes(tmp_path):
    from onnxconverter_common.float16 import convert_float_to_float16

    src = _save(norm_model(), tmp_path / "norm.onnx")
    blind = convert_float_to_float16(onnx.load(src), keep_io_types=True)
    with pytest.raises(ExportError) as err:
        check_fp16(onnx.load(src), blind)
    message = str(err.value)
    assert "worst nodes" in message and ("square" in message or "variance" in message)

    report = convert_fp16(src, tmp_path / "norm16.onnx", samples=2)
    assert report.check["passed"] and report.check["outputs"][0]["metric"] == "psnr"
    assert report.check["outputs"][0]["value"] >= 40.0
    assert "square" in report.kept_fp32 and "std" in report.kept_fp32
    assert report.fp16_nodes >= 3 and report.precision == "mixed"
    out = onnx.load(str(tmp_path / "norm16.onnx"))
    types = {t.name: t.data_type for t in out.graph.initializer}
    assert types["w2"] == TP.FLOAT16  # conv2 runs in FP16
    spec = ModelSpec.from_json(next(p.value for p in out.metadata_props if p.key == "ptx.spec"))
    assert spec.precision == "mixed"


def test_resize_scales_stay_fp32_existing_cast_and_labels(tmp_path):
    from onnxconverter_common.float16 import convert_float_to_float16

    src = _save(resize_label_model(), tmp_path / "r.onnx")
    # The library's own rewrite drops the existing Cast and the model no longer loads.
    blind = convert_float_to_float16(onnx.load(src), keep_io_types=True)
    with pytest.raises(Exception, match="(?i)type"):
        ort.InferenceSession(blind.SerializeToString(), providers=["CPUExecutionProvider"])

    dst = tmp_path / "r16.onnx"
    report = convert_fp16(src, dst, samples=2)
    assert report.check["passed"]
    model = onnx.load(str(dst))
    resize = next(n for n in model.graph.node if n.op_type == "Resize")
    inits = {t.name: t for t in model.graph.initializer}
    scales = inits[resize.input[2]]
    assert scales.data_type == TP.FLOAT
    assert np.array_equal(nh.to_array(scales), np.array([1, 1, 1.3, 1.3], np.float32))
    cast = next(n for n in model.graph.node if n.name == "existing_cast")
    assert cast.attribute[0].i == TP.FLOAT16  # retargeted inside the FP16 region
    assert [i.type.tensor_type.elem_type for i in model.graph.input] == [TP.FLOAT, TP.INT64]
    sess = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    x = RNG.uniform(0, 1, (2, 3, 20, 30)).astype(np.float32)
    (y,) = sess.run(None, {"image": x, "label": np.array([0, 4])})
    assert y.shape == (2, 3, 26, 39) and y.dtype == np.float32


def test_label_inputs_stay_inside_the_vocabulary():
    feeds = representative_inputs(resize_label_model(), None, count=6, seed=3)
    labels = np.concatenate([f["label"] for f in feeds])
    assert labels.dtype == np.int64 and labels.min() >= 0 and labels.max() < 5


def test_fp16_io_changes_io_types_and_spec(tmp_path):
    src = _save(norm_model(scale=1.0), tmp_path / "n.onnx")
    report = convert_fp16(src, tmp_path / "n16.onnx", fp16_io=True, samples=2)
    assert report.io_dtype == "float16" and report.check["passed"]
    model = onnx.load(str(tmp_path / "n16.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == TP.FLOAT16
    assert model.graph.output[0].type.tensor_type.elem_type == TP.FLOAT16
    spec = ModelSpec.from_json(model.metadata_props[0].value)
    assert spec.inputs[0].dtype == "float16" and spec.outputs[0].dtype == "float16"
    default = convert_fp16(src, tmp_path / "n32io.onnx", samples=2)
    assert default.io_dtype == "float32"
    m32 = onnx.load(str(tmp_path / "n32io.onnx"))
    assert m32.graph.input[0].type.tensor_type.elem_type == TP.FLOAT


def test_calibration_folder_of_images(tmp_path):
    from ptx.io import write_image

    folder = tmp_path / "calib"
    for i in range(3):
        write_image(folder / f"{i}.png", RNG.integers(0, 256, (24, 40, 3), dtype=np.uint8))
    src = _save(norm_model(), tmp_path / "n.onnx")
    report = convert_fp16(src, tmp_path / "n16.onnx", calib=folder, samples=3)
    assert report.calibration == str(folder) and report.samples == 3 and report.check["passed"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no readable images"):
        convert_fp16(src, tmp_path / "e16.onnx", calib=tmp_path / "empty")
    assert not (tmp_path / "e16.onnx").exists()


def test_failed_parity_leaves_nothing_behind(tmp_path):
    src = _save(norm_model(), tmp_path / "n.onnx")
    dst = tmp_path / "out" / "n16.onnx"
    with pytest.raises(ExportError, match="parity check failed"):
        convert_fp16(src, dst, safe_bound=1e9, block_ops=set(), samples=2, auto_debug=False)
    assert not dst.parent.exists() or list(dst.parent.iterdir()) == []
    report = convert_fp16(src, dst, safe_bound=1e9, block_ops=set(), samples=2)
    assert report.debug["added_fp32"] and report.check["passed"]  # precision debugging


def test_modelopt_is_optional_and_fp16_input_is_refused(tmp_path):
    src = _save(norm_model(), tmp_path / "n.onnx")
    with pytest.raises(MissingDependency, match="modelopt"):
        convert_fp16(src, tmp_path / "m.onnx", autocast="modelopt")
    assert not (tmp_path / "m.onnx").exists()
    convert_fp16(src, tmp_path / "h.onnx", samples=1)
    with pytest.raises(ExportError, match="already has FP16"):
        convert_fp16(tmp_path / "h.onnx", tmp_path / "hh.onnx")


def test_cli_convert_json_and_bad_file(tmp_path):
    src = _save(norm_model(), tmp_path / "n.onnx")
    runner = CliRunner()
    ok = runner.invoke(
        main,
        [
            "convert",
            "--precision",
            "fp16",
            src,
            str(tmp_path / "o.onnx"),
            "--samples",
            "2",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    import json

    assert json.loads(ok.stdout)["check"]["passed"] is True
    (tmp_path / "junk.onnx").write_bytes(b"this is not onnx at all")
    bad = runner.invoke(main, ["convert", str(tmp_path / "junk.onnx"), str(tmp_path / "j.onnx")])
    assert bad.exit_code == 2
    assert bad.stderr.count("\n") == 1 and "not a readable ONNX model" in bad.stderr
    assert not (tmp_path / "j.onnx").exists()

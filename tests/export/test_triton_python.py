"""`ptx triton --python --ensemble`: the python-backend entries and the ensemble parse as
Triton's ModelConfig and wire pre -> model -> post (tritonserver itself: test_triton_server)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from google.protobuf import text_format
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh
from tritonclient.grpc import model_config_pb2 as mc

from ptx.errors import InputError
from ptx.export import triton_stage
from ptx.export.triton_python import write_python_entries
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

NCHW = ["batch", 3, "height", "width"]


def _model(path, spec: bool = True):
    graph = h.make_graph(
        [h.make_node("Mul", ["image", "s"], ["out"])],
        "scale",
        [h.make_tensor_value_info("image", TP.FLOAT, NCHW)],
        [h.make_tensor_value_info("out", TP.FLOAT, NCHW)],
        [nh.from_array(np.array(0.5, np.float32), "s")],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    if spec:
        embed_in_onnx(
            model,
            ModelSpec(
                task="enhance",
                family="test",
                inputs=[TensorSpec("image", "float32", NCHW)],
                outputs=[TensorSpec("out", "float32", NCHW)],
                image=ImageConvention(multiple_of=4),
            ),
        )
    onnx.save(model, str(path))
    return path


def _parse(path) -> mc.ModelConfig:
    return text_format.Parse(path.read_text(), mc.ModelConfig())


def test_python_entries_and_ensemble_parse(tmp_path):
    model = _model(tmp_path / "m.onnx")
    report = write_python_entries(model, tmp_path / "repo", name="enh", max_batch=4, ensemble=True)
    repo = tmp_path / "repo"
    assert set(report.entries) == {"enh_python", "enh_pre", "enh_post", "enh_image"}
    py = _parse(repo / "enh_python" / "config.pbtxt")
    assert py.backend == "python" and py.max_batch_size == 4
    assert [(t.name, t.data_type, list(t.dims)) for t in py.input] == [
        ("image", mc.TYPE_FP32, [3, -1, -1])
    ]
    assert py.parameters["ptx_stage"].string_value == "model"
    assert (repo / "enh_python" / "1" / "model.onnx").read_bytes() == model.read_bytes()
    code = (repo / "enh_python" / "1" / "model.py").read_text()
    assert code == Path(triton_stage.__file__).read_text()
    pre = _parse(repo / "enh_pre" / "config.pbtxt")
    assert pre.input[0].data_type == mc.TYPE_STRING and list(pre.input[0].dims) == [1]
    assert [o.name for o in pre.output] == ["TENSOR", "SIZE"]
    assert ModelSpec.load(repo / "enh_pre" / "1" / "spec.json").image.multiple_of == 4
    ens = _parse(repo / "enh_image" / "config.pbtxt")
    assert ens.platform == "ensemble" and ens.max_batch_size == 4
    steps = ens.ensemble_scheduling.step
    assert [s.model_name for s in steps] == ["enh_pre", "enh_python", "enh_post"]
    assert dict(steps[1].input_map) == {"image": "pre_tensor"}
    assert dict(steps[2].input_map) == {"TENSOR": "model_tensor", "SIZE": "pre_size"}
    assert (repo / "enh_image" / "1").is_dir()
    assert not list(repo.glob(".*spec.json"))  # the scratch spec is gone


def test_ensemble_needs_a_spec_and_python_needs_onnx(tmp_path):
    bare = _model(tmp_path / "bare.onnx", spec=False)
    write_python_entries(bare, tmp_path / "repo", name="bare")  # tensors only: fine
    with pytest.raises(InputError, match="needs a ModelSpec"):
        write_python_entries(bare, tmp_path / "repo", name="bare", ensemble=True)
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"x")
    with pytest.raises(InputError, match="run an .onnx"):
        write_python_entries(plan, tmp_path / "repo")


def test_unbatched_entries_keep_full_dims(tmp_path):
    model = _model(tmp_path / "m.onnx")
    write_python_entries(model, tmp_path / "repo", name="u", max_batch=0, ensemble=True)
    pre = _parse(tmp_path / "repo" / "u_pre" / "config.pbtxt")
    assert pre.max_batch_size == 0 and not pre.HasField("dynamic_batching")
    assert list(pre.input[0].dims) == [-1, 1] and list(pre.output[0].dims) == [-1, 3, -1, -1]
    ens = _parse(tmp_path / "repo" / "u_image" / "config.pbtxt")
    assert ens.max_batch_size == 0 and list(ens.input[0].dims) == [-1, 1]

"""OpenVINO refuses non-tensor inputs with one line and names inputs as the ONNX graph does."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from ptx.errors import ModelError
from ptx.runtime import load

pytest.importorskip("openvino")


def test_sequence_input_is_refused_with_one_line(tmp_path):
    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, None)
    graph = helper.make_graph(
        [helper.make_node("SequenceLength", ["s"], ["n"])],
        "seq",
        [seq],
        [helper.make_tensor_value_info("n", TensorProto.INT64, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "seq.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="input 's' is a sequence") as err:
        load(path, backend="openvino")
    assert "\n" not in str(err.value)


def test_inputs_keep_their_graph_names(tmp_path):
    # Y feeds an Identity whose output is also named in the graph: OpenVINO may call the
    # port by either name; ptx must use the graph's input name.
    graph = helper.make_graph(
        [
            helper.make_node("Identity", ["Y"], ["out"]),
            helper.make_node("Add", ["X", "out"], ["Z"]),
        ],
        "names",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("Z", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "names.onnx"
    onnx.save(model, str(path))
    engine = load(path, backend="openvino")
    assert [t.name for t in engine.inputs] == ["X", "Y"]
    assert [t.name for t in engine.outputs] == ["Z"]

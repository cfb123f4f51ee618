"""ptx_run's two paths: the direct one (feeds built in C) and the glue that answers odd calls."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HOST = Path(__file__).resolve().parent / "paths_host.py"


def two_outputs(path: Path) -> Path:
    """y = image * 0.5 + 0.25 (float32) and idx = argmax over channels (int64)."""
    dims = [1, 3, "h", "w"]
    graph = helper.make_graph(
        [helper.make_node("Mul", ["image", "s"], ["m"]),
         helper.make_node("Add", ["m", "b"], ["y"]),
         helper.make_node("ArgMax", ["image"], ["idx"], axis=1, keepdims=1)],
        "two",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims),
         helper.make_tensor_value_info("idx", TensorProto.INT64, [1, 1, "h", "w"])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "s"),
         numpy_helper.from_array(np.array(0.25, np.float32), "b")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_named_positional_and_odd_calls(built, tmp_path: Path) -> None:
    model = two_outputs(tmp_path / "two.onnx")
    out = built.check([sys.executable, HOST, built.lib, model])
    rows = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.splitlines()}
    # an output asked by name alone; its dtype (int64 = 7) read from the array's buffer
    assert rows["named"] == "0 |  | 7:[1, 1, 4, 5]"
    assert rows["idx_ok"] == "1"
    assert rows["positional"] == "0 |  | 1:[1, 3, 4, 5] 7:[1, 1, 4, 5]"
    assert rows["y_ok"] == "1"
    # the calls the direct path leaves to the glue get its one-line errors
    assert rows["count"].startswith("1 | two.onnx: 2 inputs given, the model has 1 (image)")
    assert rows["dtype99"].startswith("1 | input 'image': unknown dtype code 99")
    assert rows["outname"].startswith("1 | two.onnx: no output 'nope' (it has y, idx)")
    assert rows["inname"].split(" | ")[0] in ("1", "2") and "wrong" in rows["inname"]
    assert rows["alloc"] == f"0 {3 * 4 * 5 * 4} {4 * 5 * 8} 1"

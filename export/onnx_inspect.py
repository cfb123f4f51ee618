"""What an ONNX file holds: IO, profile, ModelSpec, op counts and FP16/FP32 node counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ptx.errors import InputError, ModelError
from ptx.export.precision.graph import node_precisions
from ptx.export.trt.inspect_plan import inspect_plan
from ptx.formats.onnx import dims, graph_inputs, load_onnx
from ptx.spec import spec_from_onnx
from ptx.tensors import from_onnx


def dtype_name(code: int) -> str:
    """ptx's name for an ONNX element type, else ONNX's own (bfloat16, string...) in lower case."""
    try:
        return from_onnx(code).name
    except InputError:
        from onnx import TensorProto

        try:
            return TensorProto.DataType.Name(code).lower()
        except ValueError:
            return str(code)


def _tensor(vi: Any) -> dict[str, Any]:
    shape = dims(vi)
    return {
        "name": vi.name,
        "dtype": dtype_name(vi.type.tensor_type.elem_type),
        "shape": shape,
        "dynamic": {i: d for i, d in enumerate(shape) if not isinstance(d, int)},
    }


def inspect_onnx(path: Path) -> dict[str, Any]:
    """A JSON-able description of an ONNX model."""
    model = load_onnx(path)
    spec = spec_from_onnx(model)
    precisions = Counter(node_precisions(model).values())
    return {
        "path": str(path),
        "kind": "onnx",
        "opset": {op.domain or "ai.onnx": op.version for op in model.opset_import},
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": [_tensor(vi) for vi in graph_inputs(model.graph)],
        "outputs": [_tensor(vi) for vi in model.graph.output],
        "profile": spec.profile.__dict__ if spec and spec.profile else None,
        "spec": spec.to_dict() if spec else None,
        "nodes": len(model.graph.node),
        "ops": dict(Counter(n.op_type for n in model.graph.node).most_common()),
        "precision": {k: precisions.get(k, 0) for k in ("fp16", "fp32", "cast", "other")},
        "initializers": dict(
            sorted(Counter(dtype_name(t.data_type) for t in model.graph.initializer).items())
        ),
    }


def inspect_model(path: Path) -> dict[str, Any]:
    """``.onnx`` or ``.plan`` (by suffix, else by content) -> description."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if path.suffix.lower() in (".plan", ".engine", ".trt"):
        return {"kind": "plan", **inspect_plan(path)}
    return inspect_onnx(path)

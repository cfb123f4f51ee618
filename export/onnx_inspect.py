"""What an ONNX file holds: IO, profile, ModelSpec, op counts and FP16/FP32 node counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

ELEM = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16", 7: "int64", 6: "int32",
        2: "uint8", 3: "int8", 9: "bool", 8: "string"}  # fmt: skip


def _tensor(vi: Any) -> dict[str, Any]:
    dims = [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
        for d in vi.type.tensor_type.shape.dim
    ]
    return {
        "name": vi.name,
        "dtype": ELEM.get(vi.type.tensor_type.elem_type, str(vi.type.tensor_type.elem_type)),
        "shape": dims,
        "dynamic": {i: d for i, d in enumerate(dims) if not isinstance(d, int)},
    }


def inspect_onnx(path: Path) -> dict[str, Any]:
    """A JSON-able description of an ONNX model."""
    from ptx.export.precision.calibrate import graph_inputs, load_onnx
    from ptx.export.precision.graph import node_precisions
    from ptx.spec import spec_from_onnx

    model = load_onnx(path)
    spec = spec_from_onnx(model)
    precisions = Counter(node_precisions(model).values())
    return {
        "path": str(path),
        "kind": "onnx",
        "opset": {op.domain or "ai.onnx": op.version for op in model.opset_import},
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": [_tensor(vi) for vi in graph_inputs(model)],
        "outputs": [_tensor(vi) for vi in model.graph.output],
        "profile": spec.profile.__dict__ if spec and spec.profile else None,
        "spec": spec.to_dict() if spec else None,
        "nodes": len(model.graph.node),
        "ops": dict(Counter(n.op_type for n in model.graph.node).most_common()),
        "precision": {k: precisions.get(k, 0) for k in ("fp16", "fp32", "cast", "other")},
        "initializers": {
            dtype: sum(1 for t in model.graph.initializer if ELEM.get(t.data_type) == dtype)
            for dtype in sorted({ELEM.get(t.data_type, "?") for t in model.graph.initializer})
        },
    }


def inspect_model(path: Path) -> dict[str, Any]:
    """``.onnx`` or ``.plan`` (by suffix, else by content) -> description."""
    from ptx.errors import ModelError

    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if path.suffix.lower() in (".plan", ".engine", ".trt"):
        from ptx.export.trt.inspect_plan import inspect_plan

        return {"kind": "plan", **inspect_plan(path)}
    return inspect_onnx(path)

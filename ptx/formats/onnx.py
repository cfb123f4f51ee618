"""ONNX file helpers shared by export and the runtime: load, real inputs, types, IO."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptx.errors import ModelError
from ptx.tensors import DTYPES, TensorInfo, from_onnx


def load_onnx(path: str | Path, external_data: bool = True) -> Any:
    """Load an ONNX model, turning a missing, truncated or non-ONNX file into one ModelError."""
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: no such ONNX file")
    try:
        model = onnx.load(str(p), load_external_data=external_data)
    except Exception as exc:  # protobuf DecodeError, OSError, ValueError variants
        raise ModelError(
            f"{p}: not a readable ONNX model ({type(exc).__name__}); re-export the model"
        ) from exc
    if not model.graph.node:
        raise ModelError(f"{p}: ONNX file has an empty graph (truncated or not ONNX?)")
    return model


def graph_inputs(graph: Any) -> list[Any]:
    """Real graph inputs of a GraphProto (initializers that old opsets list as inputs left out)."""
    inits = {t.name for t in graph.initializer}
    return [vi for vi in graph.input if vi.name not in inits]


def dims(vi: Any) -> list[int | str | None]:
    """A ValueInfo's dims: ints, dim_param names, None for unnamed open dims."""
    return [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
        for d in vi.type.tensor_type.shape.dim
    ]


def tensor_info(vi: Any) -> TensorInfo:
    """A tensor ValueInfo as a TensorInfo (ModelError for a type ptx has no dtype for)."""
    if not vi.type.HasField("tensor_type"):
        raise ModelError(f"'{vi.name}' is not a tensor (a sequence, map or optional)")
    code = vi.type.tensor_type.elem_type
    if code not in {d.onnx for d in DTYPES.values()}:
        raise ModelError(f"'{vi.name}' has ONNX element type {code}, which ptx cannot feed")
    return TensorInfo(vi.name, from_onnx(code).numpy, tuple(dims(vi)))


def graph_io(model: Any) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """(inputs, outputs) of a ModelProto as TensorInfo."""
    ins = [tensor_info(vi) for vi in graph_inputs(model.graph)]
    return ins, [tensor_info(vi) for vi in model.graph.output]


def tensor_types(model: Any) -> dict[str, int]:
    """Tensor name -> ONNX elem type for every typed tensor (after shape inference)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    types = {t.name: t.data_type for t in g.initializer}
    for vi in [*g.input, *g.value_info, *g.output]:
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    return types

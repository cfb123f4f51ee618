"""KServe v2 gRPC tensors <-> NumPy: ModelInferRequest in, ModelInferResponse out.

Inputs come as ``raw_input_contents`` (one little-endian buffer per input, as
tritonclient.grpc sends them) or as typed ``contents`` (fp32_contents, int64_contents...).
Outputs always go back raw, which tritonclient reads without a copy. Validation is
ptx.runtime.server.protocol's: the same datatype, shape and size checks as HTTP.
"""

from __future__ import annotations

import numpy as np

from ptx.errors import InputError
from ptx.runtime.server.protocol import check_tensor, datatype_of
from ptx.tensors import TensorInfo

# KServe datatype -> the InferTensorContents field that carries it typed (FP16/BF16: raw only).
TYPED_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
}


def decode_infer(
    request, inputs: list[TensorInfo], outputs: list[TensorInfo]
) -> tuple[dict[str, np.ndarray], list[str] | None]:
    """(feeds, requested output names or None for all) of a ModelInferRequest (InputError)."""
    if not request.inputs:
        raise InputError("request needs at least one input tensor")
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InputError(
            f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs; send one "
            "buffer per input, or typed contents for every input"
        )
    expected = {t.name: t for t in inputs}
    feeds: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(request.inputs):
        name = tensor.name
        info = expected.get(name)
        if info is None:
            raise InputError(f"unknown input '{name}' (the model has {sorted(expected)})")
        if name in feeds:
            raise InputError(f"input '{name}' is given twice")
        shape = list(tensor.shape)
        count = _checked(name, tensor.datatype, shape, info)
        if raw:
            feeds[name] = _from_raw(name, raw[i], info.dtype, count, shape)
        else:
            feeds[name] = _from_typed(name, tensor, info.dtype, count, shape)
    missing = sorted(set(expected) - set(feeds))
    if missing:
        raise InputError(f"missing input(s) {missing}")
    if not request.outputs:
        return feeds, None
    known = {t.name for t in outputs}
    wanted = [o.name for o in request.outputs]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise InputError(f"unknown output '{unknown[0]}' (the model has {sorted(known)})")
    return feeds, wanted


_CHECKED: dict[tuple, int] = {}  # (input, datatype, shape, model's tensor) -> value count
CHECKED_MAX = 1024


def _checked(name: str, datatype: str, shape: list[int], info: TensorInfo) -> int:
    """check_tensor, remembered: a client repeats the same input header call after call."""
    key = (name, datatype, tuple(shape), info.name, info.dtype.str, info.shape)
    count = _CHECKED.get(key)
    if count is None:
        count = check_tensor(name, datatype, shape, info)  # raises for a bad one: not kept
        if len(_CHECKED) >= CHECKED_MAX:  # many shapes: forget, stay bounded
            _CHECKED.clear()
        _CHECKED[key] = count
    return count


def _from_raw(name: str, buf: bytes, dtype: np.dtype, count: int, shape: list[int]) -> np.ndarray:
    need = count * dtype.itemsize
    if len(buf) != need:
        raise InputError(
            f"input '{name}': raw contents hold {len(buf)} bytes, shape {shape} of "
            f"{datatype_of(dtype)} needs {need}"
        )
    return np.frombuffer(buf, dtype=dtype.newbyteorder("<")).reshape(shape)


def _from_typed(name: str, tensor, dtype: np.dtype, count: int, shape: list[int]) -> np.ndarray:
    datatype = datatype_of(dtype)
    field = TYPED_FIELD.get(datatype)
    if field is None:
        raise InputError(f"input '{name}': {datatype} travels only as raw_input_contents")
    values = getattr(tensor.contents, field)
    if len(values) != count:
        raise InputError(
            f"input '{name}': {field} has {len(values)} values, shape {shape} needs {count}"
        )
    arr = np.asarray(values)
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(dtype)
    if dtype.kind in "iu" and not np.array_equal(out, arr):
        raise InputError(f"input '{name}': values out of range for {datatype}")
    return out.reshape(shape)


def encode_infer(
    pb, model: str, rid: str, results: dict[str, np.ndarray], wanted: list[str] | None
):
    """A ModelInferResponse (``pb`` is tritonclient's service_pb2) with raw outputs."""
    response = pb.ModelInferResponse(model_name=model, model_version="1", id=rid)
    for name in wanted or list(results):
        arr = np.ascontiguousarray(results[name])
        out = response.outputs.add(name=name, datatype=datatype_of(arr.dtype))
        out.shape.extend(arr.shape)
        little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)  # no copy on x86/ARM
        response.raw_output_contents.append(little.tobytes())
    return response

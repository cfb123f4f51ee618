"""KServe v2 (Open Inference Protocol) request and response codec, with Triton's binary extension.

A request body is a JSON header, optionally followed by raw tensor bytes; the
``Inference-Header-Content-Length`` header says where the JSON ends, and each
binary input carries ``parameters.binary_data_size``. Responses mirror it: an
output is sent as raw bytes when the request asked for it (per output
``binary_data``, or ``binary_data_output`` for all), exactly as ``tritonclient.http``
sends and reads them. No HTTP here: bytes in, arrays out, InputError on bad input.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ptx.errors import InputError
from ptx.tensors import DTYPES, TensorInfo, from_numpy

# KServe datatype -> NumPy dtype, from ptx.tensors (BYTES/BF16 are not served).
DATATYPES: dict[str, np.dtype] = {d.kserve: d.numpy for d in DTYPES.values() if d.kserve}
MAX_DIM = 2**31 - 1  # one axis (what every backend can index)
MAX_RANK = 32  # NumPy's own limit is 64
MAX_ELEMENTS = 2**40  # product of the non-zero dims: a zero dim never makes a huge shape legal
MEMCPY_DISCOUNT = 32  # a raw copy costs about this many times less per byte than JSON text
# JSON numbers NumPy may turn into each kind without losing meaning (no float -> int).
_JSON_KINDS = {"b": "b", "u": "iu", "i": "iu", "f": "iuf"}


def datatype_of(dtype: np.dtype) -> str:
    """The KServe datatype name of a NumPy dtype (FP32, FP16, INT64...)."""
    try:
        name = from_numpy(dtype).kserve
    except InputError:
        name = None
    if name is None:
        raise InputError(f"dtype {np.dtype(dtype).name} has no KServe v2 datatype")
    return name


def wire_shape(info: TensorInfo) -> list[int]:
    """The tensor's shape as KServe metadata gives it: -1 for a dynamic axis."""
    return [d if isinstance(d, int) else -1 for d in info.shape]


@dataclass
class InferRequest:
    """A decoded infer request: id, input arrays, and which outputs to return how."""

    id: str | None
    feeds: dict[str, np.ndarray]
    outputs: dict[str, bool] | None  # name -> binary; None = all outputs
    binary_default: bool = False
    parameters: dict = field(default_factory=dict)


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """(JSON header, binary tail) of a request body, per Inference-Header-Content-Length.

    The tail is a view: binary tensors become arrays over the body without a copy.
    """
    if header_length is None:
        return body, memoryview(b"")
    try:
        n = int(header_length)
    except ValueError:
        raise InputError(
            f"Inference-Header-Content-Length must be an integer, got '{header_length[:40]}'"
        ) from None
    if n < 1 or n > len(body):
        raise InputError(
            f"Inference-Header-Content-Length {n} is outside the {len(body)}-byte body; "
            "send the length of the JSON part"
        )
    return body[:n], memoryview(body)[n:]


def parse_json(raw: bytes, what: str = "request body") -> dict:
    """A JSON object from ``raw``, or one InputError line saying what is wrong."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} is not valid JSON ({exc}); send a JSON object") from None
    except RecursionError:
        raise InputError(f"{what} is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of 4,300+ digits (int-to-str limit)
        reason = str(exc).splitlines()[0][:120] if str(exc) else "bad value"
        raise InputError(f"{what} holds a value JSON cannot carry here ({reason})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{what} must be a JSON object, got {type(doc).__name__}")
    return doc


def _shape(tensor: dict, name: str) -> list[int]:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_DIM for d in shape
    ):
        raise InputError(
            f"input '{name}': 'shape' must be a list of non-negative integers up to {MAX_DIM}"
        )
    if len(shape) > MAX_RANK or math.prod(d for d in shape if d) > MAX_ELEMENTS:
        raise InputError(
            f"input '{name}': shape {shape[:MAX_RANK]} is too large (at most {MAX_RANK} dims "
            f"and {MAX_ELEMENTS} elements counting non-zero dims)"
        )
    return shape


def _check_shape(name: str, shape: list[int], info: TensorInfo) -> None:
    want = wire_shape(info)
    if len(shape) != len(want) or any(w not in (-1, g) for w, g in zip(want, shape, strict=True)):
        raise InputError(f"input '{name}': shape {shape} does not fit the model's {want}")


def check_tensor(name: str, datatype: str, shape: list[int], info: TensorInfo) -> int:
    """Validate one input's datatype and shape against the model (InputError); its value count.

    The checks every transport shares (the gRPC codec calls it; JSON requests inline them).
    """
    want = datatype_of(info.dtype)
    if datatype != want:
        raise InputError(f"input '{name}': datatype {datatype!r} given, the model needs {want}")
    shape = _shape({"shape": shape}, name)
    _check_shape(name, shape, info)
    count = math.prod(shape)
    if count == 0:
        raise InputError(f"input '{name}': shape {shape} holds no values; send at least one")
    return count


def _from_json(name: str, data: object, dtype: np.dtype, count: int) -> np.ndarray:
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"input '{name}': 'data' is not a regular array of numbers") from None
    if arr.size == 0:
        arr = arr.astype(dtype)
    elif arr.dtype.kind not in _JSON_KINDS.get(dtype.kind, ""):
        raise InputError(
            f"input '{name}': 'data' holds {arr.dtype.kind!r}-kind values, "
            f"not numbers fit for {datatype_of(dtype)}"
        )
    if arr.size != count:
        raise InputError(f"input '{name}': 'data' has {arr.size} values, shape needs {count}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(dtype)
    if dtype.kind in "iu" and not np.array_equal(out, arr):
        raise InputError(f"input '{name}': values out of range for {datatype_of(dtype)}")
    return out


def decode_request(
    header: bytes,
    tail: bytes | memoryview,
    inputs: list[TensorInfo],
    outputs: list[TensorInfo],
) -> InferRequest:
    """Decode an infer request against the model's inputs and outputs (strict names, types)."""
    doc = parse_json(header)
    tensors = doc.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise InputError("request needs an 'inputs' list of tensors")
    expected = {t.name: t for t in inputs}
    feeds: dict[str, np.ndarray] = {}
    offset = 0
    for tensor in tensors:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise InputError("each input needs a 'name', 'shape', 'datatype' and data")
        name = tensor["name"]
        info = expected.get(name)
        if info is None:
            raise InputError(f"unknown input '{name}' (the model has {sorted(expected)})")
        if name in feeds:
            raise InputError(f"input '{name}' is given twice")
        want = datatype_of(info.dtype)
        if tensor.get("datatype") != want:
            raise InputError(
                f"input '{name}': datatype {tensor.get('datatype')!r} given, the model needs {want}"
            )
        shape = _shape(tensor, name)
        _check_shape(name, shape, info)
        count = math.prod(shape)
        if count == 0:
            raise InputError(f"input '{name}': shape {shape} holds no values; send at least one")
        params = tensor.get("parameters") or {}
        if not isinstance(params, dict):
            raise InputError(f"input '{name}': 'parameters' must be an object")
        size = params.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise InputError(f"input '{name}': binary_data_size must be an integer >= 0")
            if size != count * info.dtype.itemsize:
                raise InputError(
                    f"input '{name}': binary_data_size {size} does not match shape {shape} "
                    f"of {want} ({count * info.dtype.itemsize} bytes)"
                )
            if offset + size > len(tail):
                raise InputError(
                    f"input '{name}': binary data truncated ({len(tail) - offset} of {size} "
                    "bytes after the JSON header)"
                )
            chunk = tail[offset : offset + size]
            offset += size
            feeds[name] = np.frombuffer(chunk, dtype=info.dtype).reshape(shape)
        elif "data" in tensor:
            feeds[name] = _from_json(name, tensor["data"], info.dtype, count).reshape(shape)
        else:
            raise InputError(f"input '{name}' has neither 'data' nor binary_data_size")
    if offset != len(tail):
        raise InputError(
            f"{len(tail) - offset} bytes after the JSON header belong to no input; "
            "check binary_data_size and Inference-Header-Content-Length"
        )
    missing = sorted(set(expected) - set(feeds))
    if missing:
        raise InputError(f"missing input(s) {missing}")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise InputError("request 'parameters' must be an object")
    rid = doc.get("id")
    return InferRequest(
        id=str(rid) if rid is not None else None,
        feeds=feeds,
        outputs=_requested_outputs(doc.get("outputs"), outputs),
        binary_default=params.get("binary_data_output") is True,
        parameters=params,
    )


def _requested_outputs(requested: object, outputs: list[TensorInfo]) -> dict[str, bool] | None:
    if requested is None:
        return None
    if not isinstance(requested, list):
        raise InputError("'outputs' must be a list of {name, parameters}")
    known = {t.name for t in outputs}
    chosen: dict[str, bool] = {}
    for item in requested:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError("each requested output needs a 'name'")
        if item["name"] not in known:
            raise InputError(f"unknown output '{item['name']}' (the model has {sorted(known)})")
        params = item.get("parameters") or {}
        if not isinstance(params, dict):
            raise InputError(f"output '{item['name']}': 'parameters' must be an object")
        chosen[item["name"]] = params.get("binary_data") is True
    return chosen


def _wanted(request: InferRequest, results: dict[str, np.ndarray]) -> dict[str, bool]:
    """Output name -> sent as binary, for the outputs the request asked for (all by default)."""
    return request.outputs or dict.fromkeys(results, request.binary_default)


def encode_cost(request: InferRequest, results: dict[str, np.ndarray]) -> int:
    """Event-loop bytes of encoding a response: JSON outputs in full, binary ones one memcpy."""
    wanted = _wanted(request, results)
    return sum(
        results[name].nbytes // (MEMCPY_DISCOUNT if binary else 1)
        for name, binary in wanted.items()
    )


def encode_response(
    model: str, request: InferRequest, results: dict[str, np.ndarray]
) -> tuple[bytes, int | None]:
    """(body, JSON header length or None) of an infer response, binary where asked."""
    wanted = _wanted(request, results)
    out, blobs = [], []
    for name, binary in wanted.items():
        arr = np.ascontiguousarray(results[name])
        entry: dict = {"name": name, "datatype": datatype_of(arr.dtype), "shape": list(arr.shape)}
        if binary:
            entry["parameters"] = {"binary_data_size": arr.nbytes}
            blobs.append(memoryview(arr).cast("B"))  # joined below: one copy, not two
        else:
            entry["data"] = arr.ravel().tolist()
        out.append(entry)
    doc: dict = {"model_name": model, "model_version": "1", "outputs": out}
    if request.id is not None:
        doc["id"] = request.id
    header = json.dumps(doc, separators=(",", ":"), allow_nan=True).encode()
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)

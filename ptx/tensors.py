"""One vocabulary for tensors: dtypes across every format ptx touches, and shape text.

Every table that maps a dtype between NumPy, the ModelSpec, ONNX, ONNX Runtime,
TensorRT, KServe v2 and Triton's model config lives here, and so does every parser
of shape text (``1x3x256x256``, ``NAME:SHAPE[:DTYPE]``, ``NAME:MIN,OPT,MAX``, ``HxW``),
so a flag means the same thing on every command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ptx.errors import InputError


@dataclass(frozen=True)
class DType:
    """One element type under each name it goes by (None: that format has no such type)."""

    name: str  # the ModelSpec / NumPy name
    onnx: int  # onnx.TensorProto element type
    ort: str  # ONNX Runtime's type string
    trt: str | None  # tensorrt.DataType member name
    kserve: str | None  # KServe v2 datatype
    triton: str | None  # Triton config data_type

    @property
    def numpy(self) -> np.dtype:
        """The NumPy dtype."""
        return np.dtype(self.name)


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("float32", 1, "tensor(float)", "FLOAT", "FP32", "TYPE_FP32"),
        DType("float16", 10, "tensor(float16)", "HALF", "FP16", "TYPE_FP16"),
        DType("float64", 11, "tensor(double)", None, "FP64", "TYPE_FP64"),
        DType("int64", 7, "tensor(int64)", "INT64", "INT64", "TYPE_INT64"),
        DType("int32", 6, "tensor(int32)", "INT32", "INT32", "TYPE_INT32"),
        DType("int8", 3, "tensor(int8)", "INT8", "INT8", "TYPE_INT8"),
        DType("uint8", 2, "tensor(uint8)", "UINT8", "UINT8", "TYPE_UINT8"),
        DType("bool", 9, "tensor(bool)", "BOOL", "BOOL", "TYPE_BOOL"),
    )
}
SPEC_DTYPES = ("float32", "float16", "int64", "int32", "uint8", "bool")  # what a ModelSpec declares
INT_DTYPES = ("int64", "int32", "uint8")  # integer inputs: labels and indices
FLOAT_ONNX = {d.onnx: d.numpy for d in DTYPES.values() if d.numpy.kind == "f"}
_ALIASES = {"float": "float32", "half": "float16", "double": "float64", "fp32": "float32",
            "fp16": "float16"}  # fmt: skip


def dtype(name: str, what: str = "dtype") -> DType:
    """The DType called ``name`` (a NumPy or spec name, or a common alias)."""
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in DTYPES:
        raise InputError(f"{what}: unknown dtype '{name}' (use {', '.join(DTYPES)})")
    return DTYPES[key]


def _lookup(field: str, value: object, fmt: str) -> DType:
    for d in DTYPES.values():
        if getattr(d, field) == value:
            return d
    raise InputError(f"{fmt} type {value} has no ptx dtype (use {', '.join(DTYPES)})")


def from_numpy(dt: np.dtype | type) -> DType:
    """The DType of a NumPy dtype."""
    return _lookup("name", np.dtype(dt).name, "NumPy")


def from_onnx(code: int) -> DType:
    """The DType of an ONNX TensorProto element type."""
    return _lookup("onnx", int(code), "ONNX")


def from_ort(text: str) -> DType:
    """The DType of an ONNX Runtime type string such as ``tensor(float)``."""
    return _lookup("ort", text, "ONNX Runtime")


def from_trt(member: object) -> DType:
    """The DType of a TensorRT DataType (its member name, e.g. ``DataType.HALF``)."""
    return _lookup("trt", str(member).split(".")[-1].upper(), "TensorRT")


def from_kserve(name: str) -> DType:
    """The DType of a KServe v2 datatype name (FP32, INT64...)."""
    return _lookup("kserve", str(name).upper(), "KServe v2")


# -- shape text ---------------------------------------------------------------------------
Shape = tuple[int, ...]


def parse_shape(text: str, what: str = "shape", min_dim: int = 1) -> Shape:
    """``1x3x256x256`` -> (1, 3, 256, 256); every dim an integer >= ``min_dim``."""
    try:
        dims = tuple(int(d) for d in str(text).strip().lower().split("x"))
    except ValueError:
        raise InputError(
            f"{what} '{text}': expected integers joined by x, e.g. 1x3x256x256"
        ) from None
    if any(d < min_dim for d in dims):
        raise InputError(f"{what} '{text}': every dim must be >= {min_dim}")
    return dims


def parse_size(text: str, what: str = "--size") -> tuple[int, int]:
    """``HxW`` -> (h, w), both >= 1."""
    dims = parse_shape(text, what)
    if len(dims) != 2:
        raise InputError(f"{what} '{text}': expected HxW, e.g. 256x256")
    return dims[0], dims[1]


def format_shape(shape: tuple | list) -> str:
    """(1, 3, 'h', None) -> ``1x3xhx?``; () -> ``scalar``."""
    return "x".join("?" if d is None else str(d) for d in shape) or "scalar"


@dataclass(frozen=True)
class NamedShape:
    """``NAME:SHAPE[:DTYPE]``: one input's shape, and its dtype where the model does not say."""

    name: str
    shape: Shape
    dtype: str | None = None


def parse_named_shape(text: str, what: str = "--shapes") -> NamedShape:
    """Parse ``x:1x3x256x256`` or ``x:1x3x256x256:float16`` (trtexec's form, one input)."""
    parts = text.rsplit(":", 2) if text.count(":") >= 2 else text.rsplit(":", 1)
    if len(parts) < 2 or not parts[0]:
        raise InputError(f"{what} '{text}': expected NAME:SHAPE, e.g. x:1x3x256x256")
    dt = dtype(parts[2], f"{what} '{text}'").name if len(parts) == 3 else None
    return NamedShape(parts[0], parse_shape(parts[1], f"{what} '{text}'"), dt)


_PROFILE_ITEM = re.compile(r"^([^:]+):(.+)$")


def parse_profiles(items: str | list[str] | tuple | None) -> dict[str, tuple[Shape, Shape, Shape]]:
    """``x:1x3x64x64,2x3x128x128,8x3x256x256`` (one shape, or min,opt,max) per input.

    Several inputs: repeat the flag, or separate them with ';' or spaces.
    """
    if not items:
        return {}
    texts = [items] if isinstance(items, str) else list(items)
    parsed: dict[str, tuple[Shape, Shape, Shape]] = {}
    for item in (p for s in texts for p in re.split(r"[;\s]+", s.strip()) if p):
        match = _PROFILE_ITEM.match(item)
        if not match:
            raise InputError(
                f"--shapes '{item}': use NAME:MIN,OPT,MAX like x:1x3x64x64,2x3x128x128,8x3x256x256"
            )
        name, rest = match.group(1), match.group(2).split(",")
        if len(rest) not in (1, 3):
            raise InputError(
                f"--shapes '{item}': give one shape or three (min,opt,max), got {len(rest)}"
            )
        dims = [parse_shape(r, f"--shapes {name}") for r in rest]
        lo, mid, hi = dims * 3 if len(dims) == 1 else dims
        parsed[name] = (lo, mid, hi)
    return parsed


def parse_int_list(text: str | None, what: str) -> list[int] | None:
    """``"1,8,32"`` -> [1, 8, 32] (positive integers); None or "" -> None."""
    if text is None or str(text).strip() == "":
        return None
    try:
        values = [int(b) for b in str(text).split(",") if b.strip()]
    except ValueError:
        raise InputError(f"{what} '{text}': expected integers like 1,8,32") from None
    if not values or any(b <= 0 for b in values):
        raise InputError(f"{what} '{text}': values must be positive integers")
    return values


@dataclass(frozen=True)
class TensorInfo:
    """A model's input or output: name, NumPy dtype, shape (str or None = dynamic)."""

    name: str
    dtype: np.dtype
    shape: tuple[int | str | None, ...]

    def is_dynamic(self, axis: int) -> bool:
        """True when ``axis`` has no fixed size."""
        return not isinstance(self.shape[axis], int)

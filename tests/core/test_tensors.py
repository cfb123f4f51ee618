"""The one tensor vocabulary: dtype names across formats and every shape-text parser."""

from __future__ import annotations

import numpy as np
import pytest

from ptx import tensors
from ptx.errors import InputError


def test_every_dtype_round_trips_through_each_format() -> None:
    for d in tensors.DTYPES.values():
        assert tensors.from_numpy(d.numpy) is d
        assert tensors.from_onnx(d.onnx) is d
        assert tensors.from_ort(d.ort) is d
        if d.trt is not None:
            assert tensors.from_trt(f"DataType.{d.trt}") is d
        if d.kserve is not None:
            assert tensors.from_kserve(d.kserve.lower()) is d


def test_codes_match_onnx_and_onnxruntime() -> None:
    onnx = pytest.importorskip("onnx")
    for d in tensors.DTYPES.values():
        assert onnx.helper.tensor_dtype_to_np_dtype(d.onnx) == d.numpy


def test_aliases_and_unknown_types_are_one_line() -> None:
    assert tensors.dtype("half").name == "float16"
    assert tensors.dtype("FP32").name == "float32"
    with pytest.raises(InputError, match="unknown dtype 'bfloat17'"):
        tensors.dtype("bfloat17")
    with pytest.raises(InputError, match="TensorRT type BF16 has no ptx dtype"):
        tensors.from_trt("DataType.BF16")
    with pytest.raises(InputError, match="NumPy type complex64"):
        tensors.from_numpy(np.complex64)


@pytest.mark.parametrize(
    ("text", "shape"), [("1x3x8x8", (1, 3, 8, 8)), ("7", (7,)), (" 2X4 ", (2, 4))]
)
def test_parse_shape(text: str, shape: tuple) -> None:
    assert tensors.parse_shape(text) == shape


@pytest.mark.parametrize("text", ["1x3xax8", "", "1x0x8", "1x-2"])
def test_parse_shape_refuses_bad_text(text: str) -> None:
    with pytest.raises(InputError):
        tensors.parse_shape(text)


def test_parse_size_named_shape_profiles_and_lists() -> None:
    assert tensors.parse_size("256x128") == (256, 128)
    with pytest.raises(InputError, match="HxW"):
        tensors.parse_size("1x2x3")
    assert tensors.parse_named_shape("x:1x3x8x8") == tensors.NamedShape("x", (1, 3, 8, 8))
    got = tensors.parse_named_shape("ids:4:int64")
    assert (got.name, got.shape, got.dtype) == ("ids", (4,), "int64")
    with pytest.raises(InputError, match="NAME:SHAPE"):
        tensors.parse_named_shape("1x3x8x8")
    one = tensors.parse_profiles("x:1x3x8x8")
    assert one == {"x": ((1, 3, 8, 8),) * 3}
    both = tensors.parse_profiles(["x:1x3x8x8,2x3x16x16,4x3x32x32 y:1", "z:2"])
    assert both["x"][2] == (4, 3, 32, 32) and both["y"] == ((1,),) * 3 and "z" in both
    with pytest.raises(InputError, match="one shape or three"):
        tensors.parse_profiles("x:1,2")
    assert tensors.parse_int_list("1,8,32", "--batch") == [1, 8, 32]
    assert tensors.parse_int_list(None, "--batch") is None
    with pytest.raises(InputError, match="positive"):
        tensors.parse_int_list("1,0", "--batch")
    assert tensors.format_shape((1, "h", None)) == "1xhx?"

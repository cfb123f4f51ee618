"""Input shapes and values: --shapes parsing, batch override, static dims, the spec's profile."""

from __future__ import annotations

import numpy as np
import pytest

from ptx import runtime
from ptx.benchmarks.harness.inputs import (
    ShapeArg,
    make_feeds,
    parse_batches,
    parse_shape_arg,
    resolve_shapes,
)
from ptx.errors import InputError
from ptx.runtime.engine import TensorInfo
from ptx.spec import ImageConvention, ModelSpec, TensorSpec


def test_parse_shape_arg_and_batches() -> None:
    assert parse_shape_arg("x:1x3x64x64") == ShapeArg("x", (1, 3, 64, 64))
    assert parse_shape_arg("label:8:int64") == ShapeArg("label", (8,), "int64")
    for bad in ("x", "x:1xAx3", "x:0x3", "x:1x3:complex"):
        with pytest.raises(InputError):
            parse_shape_arg(bad)
    assert parse_batches("1,8,32") == [1, 8, 32]
    assert parse_batches(None) == [None]
    for bad in ("a", "0", "1,-2"):
        with pytest.raises(InputError):
            parse_batches(bad)


def test_shapes_come_from_profile_opt_and_batch_overrides(dynamic_onnx) -> None:
    engine = runtime.load(dynamic_onnx)
    assert resolve_shapes("m", engine.inputs, engine.spec) == {"x": (2, 3, 16, 16)}
    assert resolve_shapes("m", engine.inputs, engine.spec, batch=4) == {"x": (4, 3, 16, 16)}
    given = [ShapeArg("x", (3, 3, 16, 16))]
    assert resolve_shapes("m", engine.inputs, engine.spec, given) == {"x": (3, 3, 16, 16)}


def test_batch_outside_profile_names_the_profile(dynamic_onnx) -> None:
    engine = runtime.load(dynamic_onnx)
    with pytest.raises(
        InputError,
        match=r"outside the model's profile \(min \[1, 3, 16, 16\], "
        r"max \[4, 3, 16, 16\]\)",
    ):
        resolve_shapes("m", engine.inputs, engine.spec, batch=8)


def test_static_batch_and_static_dims_are_enforced(static_onnx) -> None:
    engine = runtime.load(static_onnx)
    assert resolve_shapes("m", engine.inputs, None) == {"x": (1, 3, 16, 16)}
    with pytest.raises(InputError, match=r"fixed batch of 1 \(dims \[1, 3, 16, 16\]\)"):
        resolve_shapes("m", engine.inputs, None, batch=2)
    with pytest.raises(InputError, match="axis 2 is 32, the model fixes it at 16"):
        resolve_shapes("m", engine.inputs, None, [ShapeArg("x", (1, 3, 32, 16))])
    with pytest.raises(InputError, match=r"not inputs"):
        resolve_shapes("m", engine.inputs, None, [ShapeArg("nope", (1,))])


def test_dynamic_hw_without_spec_asks_for_shapes(hw_onnx) -> None:
    engine = runtime.load(hw_onnx)
    with pytest.raises(InputError, match=r"give --shapes x:Nx3xNxN"):
        resolve_shapes("m", engine.inputs, None)
    got = resolve_shapes("m", engine.inputs, None, [ShapeArg("x", (1, 3, 8, 12))], batch=2)
    assert got == {"x": (2, 3, 8, 12)}


def test_feeds_follow_dtypes_image_range_and_vocabularies() -> None:
    spec = ModelSpec(
        task="generate",
        inputs=[
            TensorSpec("img", "float32", ["b", 3, 8, 8]),
            TensorSpec("label", "int64", ["b"]),
            TensorSpec("noise", "float16", ["b", 4]),
        ],
        image=ImageConvention(range=(-1.0, 1.0)),
        labels={"label": ["mug", "shoe", "bag"]},
    )
    infos = [TensorInfo(t.name, np.dtype(t.dtype), tuple(t.shape)) for t in spec.inputs]
    shapes = {"img": (4, 3, 8, 8), "label": (64,), "noise": (4, 4)}
    feeds = make_feeds(infos, shapes, spec, seed=1)
    assert feeds["img"].dtype == np.float32 and feeds["img"].shape == (4, 3, 8, 8)
    assert feeds["img"].min() >= -1.0 and feeds["img"].max() <= 1.0
    assert feeds["img"].min() < -0.5  # spans the range, not only [0, 1]
    assert feeds["label"].dtype == np.int64
    assert set(np.unique(feeds["label"])) <= {0, 1, 2} and len(np.unique(feeds["label"])) == 3
    assert feeds["noise"].dtype == np.float16

"""Bench inputs: --shapes, --batch, static dims, the spec profile, ptx.inputs's one rule."""

from __future__ import annotations

import numpy as np
import pytest

from ptx import runtime
from ptx.benchmarks.harness.inputs import bench_inputs, parse_batches, sized_shapes
from ptx.errors import InputError
from ptx.inputs import example_inputs, resolve_shapes
from ptx.spec import ImageConvention, ModelSpec, TensorSpec
from ptx.tensors import NamedShape, TensorInfo, parse_named_shape


def test_parse_shape_arg_and_batches() -> None:
    assert parse_named_shape("x:1x3x64x64") == NamedShape("x", (1, 3, 64, 64))
    assert parse_named_shape("label:8:int64") == NamedShape("label", (8,), "int64")
    for bad in ("x", "x:1xAx3", "x:0x3", "x:1x3:complex"):
        with pytest.raises(InputError):
            parse_named_shape(bad)
    assert parse_batches("1,8,32") == [1, 8, 32]
    assert parse_batches(None) == [None]
    for bad in ("a", "0", "1,-2"):
        with pytest.raises(InputError, match="--batch"):
            parse_batches(bad)


def test_shapes_come_from_profile_opt_and_batch_overrides(dynamic_onnx) -> None:
    engine = runtime.load(dynamic_onnx)
    assert resolve_shapes(engine.inputs, engine.spec) == {"x": (2, 3, 16, 16)}
    assert resolve_shapes(engine.inputs, engine.spec, batch=4) == {"x": (4, 3, 16, 16)}
    given = [NamedShape("x", (3, 3, 16, 16))]
    assert resolve_shapes(engine.inputs, engine.spec, given) == {"x": (3, 3, 16, 16)}
    assert bench_inputs("m", engine.inputs, engine.spec).notes == []  # the profile said


def test_batch_outside_profile_names_the_profile(dynamic_onnx) -> None:
    engine = runtime.load(dynamic_onnx)
    with pytest.raises(
        InputError,
        match=r"outside the model's profile \(min \[1, 3, 16, 16\], "
        r"max \[4, 3, 16, 16\]\)",
    ):
        bench_inputs("m", engine.inputs, engine.spec, batch=8)
    with pytest.raises(InputError, match="outside the model's profile"):
        sized_shapes(engine.inputs, engine.spec, 8, 32)  # a study's shapes are bounded too


def test_static_batch_and_static_dims_are_enforced(static_onnx) -> None:
    engine = runtime.load(static_onnx)
    assert bench_inputs("m", engine.inputs, None).shapes == {"x": (1, 3, 16, 16)}
    with pytest.raises(InputError, match=r"fixed batch of 1 \(dims \[1, 3, 16, 16\]\)"):
        bench_inputs("m", engine.inputs, None, batch=2)
    with pytest.raises(InputError, match="axis 2 is 32, the model fixes it at 16"):
        bench_inputs("m", engine.inputs, None, [NamedShape("x", (1, 3, 32, 16))])
    with pytest.raises(InputError, match=r"not inputs"):
        bench_inputs("m", engine.inputs, None, [NamedShape("nope", (1,))])


def test_dynamic_hw_without_spec_is_sized_by_the_one_rule_with_a_note(hw_onnx) -> None:
    """Open H and W with no profile: batch 1, sides 64 (ptx.inputs), and a note saying so."""
    engine = runtime.load(hw_onnx)
    made = bench_inputs("m", engine.inputs, None)
    assert made.shapes == {"x": (1, 3, 64, 64)} and made.feeds["x"].shape == (1, 3, 64, 64)
    assert made.notes == [
        "note: input 'x' has open dims and no spec profile; measured at 1x3x64x64 "
        "(choose with --shapes x:Nx3xNxN)"
    ]
    assert bench_inputs("m", engine.inputs, None, batch=2).shapes == {"x": (2, 3, 64, 64)}
    given = [NamedShape("x", (1, 3, 8, 12))]
    got = bench_inputs("m", engine.inputs, None, given, batch=2)
    assert got.shapes == {"x": (2, 3, 8, 12)} and got.notes == []


def test_only_an_open_batch_needs_no_note() -> None:
    info = [TensorInfo("x", np.dtype(np.float32), (None, 3, 16, 16))]
    made = bench_inputs("m", info, None)
    assert made.shapes == {"x": (1, 3, 16, 16)} and made.notes == []


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
    feeds = example_inputs(infos, spec, shapes, seed=1)
    assert feeds["img"].dtype == np.float32 and feeds["img"].shape == (4, 3, 8, 8)
    assert feeds["img"].min() >= -1.0 and feeds["img"].max() <= 1.0
    assert feeds["img"].min() < -0.5  # spans the range, not only [0, 1]
    assert feeds["label"].dtype == np.int64
    assert set(np.unique(feeds["label"])) <= {0, 1, 2} and len(np.unique(feeds["label"])) == 3
    assert feeds["noise"].dtype == np.float16


def test_a_single_mean_and_std_value_is_spread_over_the_channels() -> None:
    """The bench once skipped mean/std unless one value per channel; now the spec's rule holds."""
    conv = ImageConvention(range=(0.0, 1.0), mean=(0.5,), std=(0.25,))
    spec = ModelSpec(task="enhance", inputs=[TensorSpec("x", "float32", [2, 3, 8, 8])], image=conv)
    infos = [TensorInfo("x", np.dtype(np.float32), (2, 3, 8, 8))]
    made = bench_inputs("m", infos, spec, seed=3)
    x = made.feeds["x"]
    assert x.min() >= (0 - 0.5) / 0.25 - 1e-6 and x.max() <= (1 - 0.5) / 0.25 + 1e-6
    assert x.min() < -1.0 and x.max() > 1.0  # normalised, not left in [0, 1]

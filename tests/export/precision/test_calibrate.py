"""Calibration feeds follow ptx.inputs' one rule: shapes, images in the convention, labels."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from ptx.errors import InputError
from ptx.export.precision.calibrate import representative_inputs, vocab_sizes
from ptx.io import write_image
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx


def _model(inputs, extra_nodes=(), inits=(), spec: ModelSpec | None = None) -> onnx.ModelProto:
    """Identity on the first input (plus ``extra_nodes``), so every input is a real graph input."""
    first = inputs[0]
    y = h.make_tensor_value_info("y", first.type.tensor_type.elem_type, None)
    nodes = [h.make_node("Identity", [first.name], ["y"], name="id"), *extra_nodes]
    outs = [y] + [h.make_tensor_value_info(n.output[0], TP.FLOAT, None) for n in extra_nodes]
    model = h.make_model(
        h.make_graph(nodes, "m", list(inputs), outs, list(inits)),
        opset_imports=[h.make_opsetid("", 18)],
    )
    if spec is not None:
        embed_in_onnx(model, spec)
    return model


def _image_spec(conv: ImageConvention, dims: list) -> ModelSpec:
    return ModelSpec(
        task="enhance",
        inputs=[TensorSpec("image", "float32", dims)],
        outputs=[TensorSpec("y", "float32", dims)],
        image=conv,
        profile=ShapeProfile(
            min={"image": [1, 3, 16, 16]},
            opt={"image": [4, 3, 32, 40]},
            max={"image": [8, 3, 64, 64]},
        ),
    )


def test_images_lie_in_the_converted_range_of_a_single_value_mean_std():
    # range (-1, 1) with mean/std as one value each: the pixel span maps to [-3, 1].
    conv = ImageConvention(range=(-1.0, 1.0), mean=(0.5,), std=(0.5,))
    dims = ["batch", 3, "height", "width"]
    image = h.make_tensor_value_info("image", TP.FLOAT, dims)
    spec = _image_spec(conv, dims)
    feeds = representative_inputs(_model([image], spec=spec), spec, count=8, seed=1)
    lo, hi = conv.bounds()
    assert lo.tolist() == [-3.0] * 3 and hi.tolist() == [1.0] * 3
    stack = np.concatenate([f["image"] for f in feeds])
    # The spec profile's opt H x W, one item a feed (every batch axis is open).
    assert stack.shape == (8, 3, 32, 40) and stack.dtype == np.float32
    assert stack.min() >= -3.0 - 1e-6 and stack.max() <= 1.0 + 1e-6
    # Product-like pictures reach both ends (white background, flat black picture).
    assert np.isclose(stack.max(), 1.0) and np.isclose(stack.min(), -3.0)


def test_nhwc_bgr_images_and_photos_from_a_folder(tmp_path):
    conv = ImageConvention(layout="NHWC", channel_order="BGR", mean=(0.1, 0.2, 0.3))
    dims = ["batch", "height", "width", 3]
    image = h.make_tensor_value_info("image", TP.FLOAT, dims)
    spec = ModelSpec(task="enhance", inputs=[TensorSpec("image", "float32", dims)], image=conv)
    red = np.zeros((20, 30, 3), np.uint8)
    red[..., 0] = 255
    write_image(tmp_path / "red.png", red)
    feeds = representative_inputs(_model([image], spec=spec), spec, count=2, calib=tmp_path)
    x = feeds[0]["image"]
    assert x.shape == (1, 64, 64, 3)  # open H and W -> 64 (no profile)
    # BGR order, mean per channel: blue (0 - 0.1), green (0 - 0.2), red (1 - 0.3).
    np.testing.assert_allclose(x[0, 10, 10], [-0.1, -0.2, 0.7], atol=1e-6)


def test_foreign_model_open_dims_other_floats_and_labels():
    image = h.make_tensor_value_info("image", TP.FLOAT, [None, 3, None, None])
    z = h.make_tensor_value_info("z", TP.FLOAT, ["n", 16])
    label = h.make_tensor_value_info("label", TP.INT64, ["n"])
    count = h.make_tensor_value_info("k", TP.INT32, ["n"])
    table = nh.from_array(np.ones((7, 4), np.float32), "table")
    gather = h.make_node("Gather", ["table", "label"], ["e"], axis=0, name="embed")
    cast = h.make_node("Cast", ["k"], ["kf"], to=TP.FLOAT, name="kf")
    zid = h.make_node("Identity", ["z"], ["z2"], name="zid")
    model = _model([image, z, label, count], [gather, cast, zid], [table])
    assert vocab_sizes(model) == {"label": 7}
    feeds = representative_inputs(model, None, count=6, seed=2)
    assert feeds[0]["image"].shape == (1, 3, 64, 64)
    zs = np.concatenate([f["z"] for f in feeds])
    assert zs.shape == (6, 16) and zs.min() < -1.0 and zs.max() > 1.0  # standard normal
    labels = np.concatenate([f["label"] for f in feeds])
    assert labels.dtype == np.int64 and labels.min() >= 0 and labels.max() < 7
    # An integer nothing bounds is zeros: valid as a label, index or count in any model.
    assert all(not f["k"].any() for f in feeds)


def test_spec_vocabulary_and_table_both_bound_a_label():
    label = h.make_tensor_value_info("label", TP.INT64, ["batch"])
    table = nh.from_array(np.ones((9, 4), np.float32), "table")
    gather = h.make_node("Gather", ["table", "label"], ["e"], axis=0, name="embed")
    spec = ModelSpec(
        task="generate",
        inputs=[TensorSpec("label", "int64", ["batch"])],
        labels={"label": ["a", "b", "c"]},
    )
    model = _model([label], [gather], [table], spec=spec)
    labels = np.concatenate([f["label"] for f in representative_inputs(model, spec, count=12)])
    assert labels.max() < 3 and len(set(labels.tolist())) > 1


def test_batch_is_the_smallest_the_profile_allows():
    dims = ["batch", 3, "height", "width"]
    image = h.make_tensor_value_info("image", TP.FLOAT, dims)
    spec = _image_spec(ImageConvention(), dims)
    spec.profile.min["image"] = [2, 3, 16, 16]
    (feed,) = representative_inputs(_model([image], spec=spec), spec, count=1)
    assert feed["image"].shape == (2, 3, 32, 40)


def test_a_shape_the_model_cannot_take_is_one_line():
    image = h.make_tensor_value_info("image", TP.FLOAT, ["batch", 3, "height", "width"])
    spec = _image_spec(ImageConvention(), ["batch", 3, "height", "width"])
    spec.profile.max["image"] = [8, 3, 24, 64]  # opt 32x40 lies outside: a broken spec
    with pytest.raises(InputError, match="outside the model's profile") as info:
        representative_inputs(_model([image], spec=spec), spec, count=1)
    assert "\n" not in str(info.value)

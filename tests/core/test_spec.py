"""ModelSpec: round trips, validation, version gate, ONNX embedding."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ptx.errors import SpecError
from ptx.spec import (
    ONNX_METADATA_KEY,
    SPEC_VERSION,
    ImageConvention,
    ModelSpec,
    ShapeProfile,
    TensorSpec,
    embed_in_onnx,
    spec_from_onnx,
)


def _spec() -> ModelSpec:
    return ModelSpec(
        task="enhance",
        family="enhance",
        inputs=[TensorSpec("image", "float32", ["batch", 3, "height", "width"])],
        outputs=[TensorSpec("enhanced", "float32", ["batch", 3, "height", "width"])],
        image=ImageConvention(range=(0, 1), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
        labels={"color": ["red", "blue"]},
        profile=ShapeProfile(
            min={"image": [1, 3, 32, 32]},
            opt={"image": [1, 3, 256, 256]},
            max={"image": [8, 3, 512, 512]},
        ),
        config={"width": 16},
    )


def test_round_trip_through_json(tmp_path) -> None:
    spec = _spec()
    path = tmp_path / "spec.json"
    spec.save(path)
    back = ModelSpec.load(path)
    assert back == spec
    assert back.inputs[0].dynamic_dims == {0: "batch", 2: "height", 3: "width"}
    assert back.image.mean == (0.5, 0.5, 0.5)
    assert json.loads(path.read_text())["version"] == SPEC_VERSION


def test_newer_version_is_rejected_with_upgrade_hint() -> None:
    data = _spec().to_dict()
    data["version"] = SPEC_VERSION + 1
    with pytest.raises(SpecError, match="newer than this ptx.*upgrade"):
        ModelSpec.from_dict(data)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(task="teleport"), "unknown task"),
        (lambda d: d.pop("version"), "integer 'version'"),
        (lambda d: d["inputs"][0].update(dtype="complex64"), "unknown dtype"),
        (lambda d: d.update(bogus=1), "malformed"),
        (lambda d: d["profile"]["min"].update(image=[9, 3, 32, 32]), "min <= opt <= max"),
        (lambda d: d["image"].update(layout="CHWN"), "layout"),
    ],
)
def test_malformed_specs_fail_clearly(mutate, message) -> None:
    data = json.loads(_spec().to_json())
    mutate(data)
    with pytest.raises(SpecError, match=message):
        ModelSpec.from_dict(data)


def test_not_json() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        ModelSpec.from_json("{nope")


def test_embed_and_read_back_from_onnx(tmp_path) -> None:
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("enhanced", TensorProto.FLOAT, ["batch", 3, 8, 8])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["enhanced"])], "g", [x], [y]
    )
    model = helper.make_model(graph)
    model.metadata_props.add(key="author", value="someone")
    spec = _spec()
    embed_in_onnx(model, spec)
    embed_in_onnx(model, spec)  # replacing, not duplicating
    keys = [p.key for p in model.metadata_props]
    assert keys.count(ONNX_METADATA_KEY) == 1 and "author" in keys
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    assert spec_from_onnx(path) == spec


def test_foreign_onnx_has_no_spec() -> None:
    graph = helper.make_graph([], "g", [], [])
    assert spec_from_onnx(helper.make_model(graph)) is None


def test_convention_methods_are_the_image_module() -> None:
    conv = ImageConvention(range=(-1.0, 1.0), mean=(0.5,), std=(0.25,), channel_order="BGR")
    imgs = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    batch = conv.to_model(imgs)
    assert batch.shape == (2, 3, 5, 7) and conv.channel_axis == 1
    np.testing.assert_allclose(batch, conv.from_unit(imgs / 255.0), atol=1e-5)
    lo, hi = conv.bounds()
    assert np.allclose(lo, -6.0) and np.allclose(hi, 2.0)  # ((±1) - 0.5) / 0.25
    assert np.array_equal(np.stack(conv.to_pixels(batch)), imgs)
    assert conv.to_pixels(batch, size=(3, 4))[0].shape == (3, 4, 3)


def test_fit_is_recorded_and_validated() -> None:
    assert ImageConvention().fit == "pad"
    conv = ImageConvention(fit="crop")
    back = ModelSpec.from_json(ModelSpec(task="vae-encode", image=conv).to_json())
    assert back.image.fit == "crop"
    photo = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    assert conv.fit_image(photo, 16, 16).shape == (16, 16, 3)
    with pytest.raises(SpecError, match="image fit 'squash'"):
        ImageConvention(fit="squash")


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("image", "range"), "ab", "image.range: expected a list of 2 numbers"),
        (("image", "range"), [0, 1, 2], "image.range: expected 2 numbers, got 3"),
        (("image", "range"), [0, float("nan")], "image.range: nan is not finite"),
        (("image", "range"), [1, 1], "two different ends"),
        (("image", "mean"), "x", "image.mean"),
        (("image", "std"), [0, 0, 0], "image.std must not be 0"),
        (("image", "multiple_of"), "x", "image.multiple_of: expected an integer"),
        (("image",), [1], "malformed ModelSpec"),
        (("profile",), {"min": [1], "opt": {}, "max": {}}, "profile.min must map"),
        (("inputs", 0, "shape"), [float("nan"), 3], "axis 0: expected an integer, got nan"),
        (("inputs", 0, "shape"), [10**5000, 3], "a 16610-bit number is outside"),
        (("inputs", 0, "shape"), [-5, 3], "-5 is outside"),
        (("inputs", 0, "shape"), [True, 3], "expected an integer, got True"),
        (("inputs", 0, "name"), 5, "tensor name must be a non-empty string"),
        (("inputs",), 5, "malformed ModelSpec"),
        (("labels",), {"a": 5}, "labels must map"),
        (("latent_size",), "x", "latent_size: expected an integer"),
        (("config",), [1], "config must be a JSON object"),
    ],
)
def test_malformed_fields_are_one_spec_error(where, value, message) -> None:
    spec = ModelSpec(
        task="enhance",
        inputs=[TensorSpec("image", "float32", ["batch", 3])],
        image=ImageConvention(),
    ).to_dict()
    target = spec
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    with pytest.raises(SpecError, match=message):
        ModelSpec.from_dict(spec)


def test_bytes_that_are_not_utf8_are_one_spec_error() -> None:
    with pytest.raises(SpecError, match="not valid JSON"):
        ModelSpec.from_json(b"\xff\xfe{")

"""One rule for example inputs: shapes from the spec, values in the spec's convention."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.inputs import defaulted, example_inputs, resolve_shapes
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec
from ptx.tensors import TensorInfo

F32 = np.dtype(np.float32)


def _image(name="image", shape=(None, 3, None, None), dtype=F32) -> TensorInfo:
    return TensorInfo(name, np.dtype(dtype), shape)


def _spec(conv: ImageConvention | None = None, profile: bool = True, labels=None) -> ModelSpec:
    return ModelSpec(
        task="custom",
        inputs=[TensorSpec("image", "float32", ["batch", 3, "height", "width"])],
        image=conv or ImageConvention(),
        labels=labels or {},
        profile=ShapeProfile(
            min={"image": [1, 3, 8, 8]},
            opt={"image": [2, 3, 16, 24]},
            max={"image": [4, 3, 32, 32]},
        )
        if profile
        else None,
    )


def test_shapes_given_then_static_then_profile_then_open_dims() -> None:
    spec = _spec()
    t = [_image()]
    assert resolve_shapes(t, spec) == {"image": (2, 3, 16, 24)}
    assert resolve_shapes(t, spec, {"image": (1, 3, 8, 8)}) == {"image": (1, 3, 8, 8)}
    assert resolve_shapes(t, spec, batch=3) == {"image": (3, 3, 16, 24)}
    assert resolve_shapes([_image(shape=(1, 3, 5, 5))], None) == {"image": (1, 3, 5, 5)}
    # No spec: the batch axis opens at 1, every other open axis at 64 (or `side`).
    assert resolve_shapes(t, None) == {"image": (1, 3, 64, 64)}
    assert resolve_shapes(t, None, side=256) == {"image": (1, 3, 256, 256)}
    assert defaulted(t, None, {}) == ["image"] and defaulted(t, spec, {}) == []
    latent = TensorInfo("z", F32, ("batch", 16))
    assert resolve_shapes([latent], None, batch=5) == {"z": (5, 16)}


def test_shape_errors_are_one_line() -> None:
    spec = _spec()
    t = [_image()]
    with pytest.raises(InputError, match="outside the model's profile"):
        resolve_shapes(t, spec, batch=8)
    with pytest.raises(InputError, match="rank 4"):
        resolve_shapes(t, spec, {"image": (1, 3, 8)})
    with pytest.raises(InputError, match="axis 1 is 4, the model fixes it at 3"):
        resolve_shapes(t, spec, {"image": (1, 4, 8, 8)})
    with pytest.raises(InputError, match="not inputs"):
        resolve_shapes(t, spec, {"nope": (1,)})
    fixed = [_image(shape=(1, 3, None, None))]  # a profile whose opt breaks a fixed dim
    with pytest.raises(InputError, match="axis 0 is 2, the model fixes it at 1"):
        resolve_shapes(fixed, _spec())
    with pytest.raises(InputError, match="fixed batch of 1"):
        resolve_shapes([_image(shape=(1, 3, 8, 8))], None, batch=2)


@pytest.mark.parametrize(
    "conv",
    [
        ImageConvention(range=(-1.0, 1.0)),
        ImageConvention(range=(0.0, 255.0), mean=(123.7,), std=(58.4,)),  # one value for all
        ImageConvention(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), layout="NHWC"),
    ],
)
@pytest.mark.parametrize("pictures", ["random", "pictures"])
def test_image_values_lie_in_the_conventions_range(conv: ImageConvention, pictures: str) -> None:
    shape = (2, 8, 8, 3) if conv.layout == "NHWC" else (2, 3, 8, 8)
    t = [_image(shape=(None, 8, 8, 3) if conv.layout == "NHWC" else (None, 3, 8, 8))]
    x = example_inputs(t, _spec(conv, profile=False), {"image": shape}, pictures=pictures)["image"]
    lo, hi = conv.bounds()
    view = [1, 1, 1, 1]
    view[conv.channel_axis] = 3
    assert x.shape == shape and x.dtype == np.float32
    assert np.all(x >= lo.reshape(view) - 1e-5) and np.all(x <= hi.reshape(view) + 1e-5)
    assert float(x.std()) > 0.05 * float((hi - lo).max())  # not a constant


def test_photos_are_fitted_and_converted_exactly() -> None:
    conv = ImageConvention(range=(-1.0, 1.0))
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    x = example_inputs([_image()], _spec(conv), {"image": (1, 3, 20, 30)}, pictures=[photo])
    np.testing.assert_allclose(x["image"], conv.to_model([photo]), atol=1e-6)


def test_other_dtypes_follow_the_rule() -> None:
    spec = _spec(labels={"category": ["a", "b", "c"], "color": ["x", "y"]})
    tensors = [
        TensorInfo("z", F32, (None, 8)),
        TensorInfo("category", np.dtype(np.int64), (None,)),
        TensorInfo("color", np.dtype(np.int32), (None,)),
        TensorInfo("index", np.dtype(np.int64), (None,)),
        TensorInfo("mask", np.dtype(np.bool_), (None, 4)),
        TensorInfo("raw", np.dtype(np.uint8), (None, 4)),
    ]
    shapes = resolve_shapes(tensors, spec, batch=400)
    feeds = example_inputs(tensors, spec, shapes, seed=3, int_high={"index": 7})
    assert abs(float(feeds["z"].mean())) < 0.1 and 0.9 < float(feeds["z"].std()) < 1.1
    assert set(np.unique(feeds["category"])) == {0, 1, 2} and feeds["color"].dtype == np.int32
    assert set(np.unique(feeds["color"])) == {0, 1}
    assert set(np.unique(feeds["index"])) == set(range(7))
    assert feeds["mask"].dtype == np.bool_ and feeds["raw"].max() > 200
    again = example_inputs(tensors, spec, shapes, seed=3, int_high={"index": 7})
    assert all(np.array_equal(feeds[k], again[k]) for k in feeds)  # seeded


def test_integers_without_a_vocabulary_are_zeros() -> None:
    t = [TensorInfo("shape", np.dtype(np.int64), (4,))]
    assert not example_inputs(t, None, {"shape": (4,)})["shape"].any()

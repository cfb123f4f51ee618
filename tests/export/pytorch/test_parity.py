"""Parity inputs follow ptx.inputs' rule: labels in their vocabulary, images in the spec range."""

from __future__ import annotations

import numpy as np

from ptx.export.pytorch.factory import InputDecl
from ptx.export.pytorch.parity import fresh_inputs, parity_shapes
from ptx.spec import ImageConvention, ModelSpec, TensorSpec

DYNAMIC = {"x": {0: "batch", 2: "height", 3: "width"}, "label": {0: "batch"}, "k": {0: "batch"}}


def _decls(high: int | None) -> list[InputDecl]:
    return [
        InputDecl("x", (2, 3, 16, 16)),
        InputDecl("label", (2,), "int64", high),
        InputDecl("k", (2,), "int32"),
    ]


def test_label_inputs_stay_within_their_vocabulary_at_the_parity_shape():
    decls = _decls(high=5)
    shapes = parity_shapes(decls, DYNAMIC)
    assert shapes["label"] == (3,) and shapes["x"][0] == 3
    labels = np.concatenate([fresh_inputs(decls, shapes, None, seed=s)[1] for s in range(40)])
    assert labels.dtype == np.int64 and labels.min() >= 0 and labels.max() < 5
    assert set(labels.tolist()) == set(range(5))  # the whole vocabulary gets exercised


def test_spec_vocabulary_bounds_a_label_without_a_declared_bound():
    spec = ModelSpec(task="generate", labels={"label": ["shoe", "bag"]})
    decls = _decls(high=None)
    shapes = {d.name: d.shape for d in decls}
    draws = [fresh_inputs(decls, shapes, spec, seed=s) for s in range(20)]
    labels = np.concatenate([d[1] for d in draws])
    assert labels.max() == 1 and labels.min() == 0
    # An integer nothing bounds is zeros (valid as a label, index or count).
    assert all(not d[2].any() for d in draws)


def test_images_lie_in_the_spec_range_in_decl_order():
    conv = ImageConvention(range=(-1.0, 1.0), mean=(0.5,), std=(0.5,))
    spec = ModelSpec(
        task="enhance",
        inputs=[TensorSpec("x", "float32", ["batch", 3, "height", "width"])],
        image=conv,
    )
    decls = _decls(high=3)
    x, label, k = fresh_inputs(decls, parity_shapes(decls, DYNAMIC), spec)
    assert x.dtype == np.float32 and label.dtype == np.int64 and k.dtype == np.int32
    lo, hi = conv.bounds()
    assert x.min() >= lo.min() and x.max() <= hi.max()
    assert x.min() < -2.5 and x.max() > 0.5  # uniform pixels fill most of [-3, 1]

"""The generate pipeline and `ptx run generate` on a real, hand-built conditional ONNX generator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from ptx.cli import LazyGroup
from ptx.errors import InputError, ModelError
from ptx.image import grid
from ptx.io import read_image
from ptx.runtime import load
from ptx.runtime.pipelines.generate import generate, generator_plan, label_ids, sample
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx

LATENT, SIDE = 6, 8
VOCAB = {"category": ["bottle", "mug", "watch"], "color": ["blue", "red"]}


def tiny_generator(
    path: Path, labels: str = "named", latent: str = "z", image: ImageConvention | None = None
) -> Path:
    """tanh(z @ W + E_category[category] + E_color[color]) reshaped to [batch, 3, SIDE, SIDE].

    ``labels``: "named" (int64 inputs category, color), "prefixed" (label_category,
    color_id) or "stacked" (one int64 [batch, 2] input ``labels``); ``latent`` names z.
    """
    rng = np.random.default_rng(0)
    pixels = 3 * SIDE * SIDE
    inits = [
        nh.from_array(rng.normal(0, 0.5, (LATENT, pixels)).astype(np.float32), "w"),
        nh.from_array(rng.normal(0, 1.0, (3, pixels)).astype(np.float32), "e_cat"),
        nh.from_array(rng.normal(0, 1.0, (2, pixels)).astype(np.float32), "e_col"),
        nh.from_array(np.array([-1, 3, SIDE, SIDE], np.int64), "shape"),
        nh.from_array(np.array(0, np.int64), "i0"),
        nh.from_array(np.array(1, np.int64), "i1"),
    ]
    b = ["batch"]
    if labels == "stacked":
        int_inputs = [h.make_tensor_value_info("labels", TP.INT64, ["batch", 2])]
        cat, col = "cat_ids", "col_ids"
        split = [
            h.make_node("Gather", ["labels", "i0"], [cat], axis=1),
            h.make_node("Gather", ["labels", "i1"], [col], axis=1),
        ]
        int_specs = [TensorSpec("labels", "int64", b + [2])]
    else:
        cat, col = ("label_category", "color_id") if labels == "prefixed" else ("category", "color")
        int_inputs = [h.make_tensor_value_info(n, TP.INT64, b) for n in (cat, col)]
        split = []
        int_specs = [TensorSpec(cat, "int64", b), TensorSpec(col, "int64", b)]
    nodes = [
        *split,
        h.make_node("MatMul", [latent, "w"], ["zw"]),
        h.make_node("Gather", ["e_cat", cat], ["ec"], axis=0),
        h.make_node("Gather", ["e_col", col], ["ek"], axis=0),
        h.make_node("Add", ["zw", "ec"], ["s1"]),
        h.make_node("Add", ["s1", "ek"], ["s2"]),
        h.make_node("Tanh", ["s2"], ["t"]),
        h.make_node("Reshape", ["t", "shape"], ["image"]),
    ]
    graph = h.make_graph(
        nodes,
        "gen",
        [h.make_tensor_value_info(latent, TP.FLOAT, ["batch", LATENT]), *int_inputs],
        [h.make_tensor_value_info("image", TP.FLOAT, ["batch", 3, SIDE, SIDE])],
        inits,
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    spec = ModelSpec(
        task="generate",
        family="gan",
        inputs=[TensorSpec(latent, "float32", b + [LATENT]), *int_specs],
        outputs=[TensorSpec("image", "float32", b + [3, SIDE, SIDE])],
        image=image,
        labels=VOCAB,
        latent_size=LATENT,
    )
    spec.profile = ShapeProfile(
        min={t.name: [1, *t.shape[1:]] for t in spec.inputs},
        opt={t.name: [4, *t.shape[1:]] for t in spec.inputs},
        max={t.name: [64, *t.shape[1:]] for t in spec.inputs},
    )
    embed_in_onnx(model, spec)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "gan.onnx"
    return tiny_generator(path, image=ImageConvention(range=(-1.0, 1.0)))


@pytest.fixture(scope="module")
def engine(model_path):
    with load(model_path, backend="onnxruntime") as eng:
        yield eng


def test_generate_is_seeded_and_draws_labels_per_sample(engine) -> None:
    images, labels = generate(engine, None, n=70, seed=3)  # > 64: runs in two chunks
    assert len(images) == 70 and images[0].shape == (SIDE, SIDE, 3) and images[0].dtype == np.uint8
    assert {lab["category"] for lab in labels} == set(VOCAB["category"])
    assert {lab["color"] for lab in labels} == set(VOCAB["color"])
    again, labels2 = generate(engine, None, n=70, seed=3)
    assert labels2 == labels and np.array_equal(np.stack(images), np.stack(again))
    other, _ = generate(engine, None, n=70, seed=4)
    assert not np.array_equal(np.stack(images), np.stack(other))


def test_given_labels_fix_every_sample_and_steer_the_image(engine) -> None:
    mugs, labels = generate(engine, {"category": "mug", "color": "red"}, n=5, seed=0)
    assert all(lab == {"category": "mug", "color": "red"} for lab in labels)
    bottles, _ = generate(engine, {"category": "bottle", "color": "red"}, n=5, seed=0)
    assert np.abs(np.stack(mugs).astype(int) - np.stack(bottles)).mean() > 5  # same z


def test_bad_labels_and_counts_are_clear_errors(engine) -> None:
    with pytest.raises(InputError, match="valid values: bottle, mug, watch"):
        generate(engine, {"category": "sofa"}, n=2)
    with pytest.raises(InputError, match="unknown label 'size'"):
        generate(engine, {"size": "xl"}, n=2)
    with pytest.raises(InputError, match="at least 1"):
        generate(engine, None, n=0)
    ids = label_ids(VOCAB, {"color": "blue"}, 4, np.random.default_rng(0))
    assert ids["color"].tolist() == [0, 0, 0, 0] and ids["category"].dtype == np.int64


def test_grid_layout() -> None:
    """The sheets of `ptx run generate --grid` come from ptx.image.grid, the one grid builder."""
    imgs = [np.full((4, 5, 3), i * 40, np.uint8) for i in range(5)]
    g = grid(imgs, ncol=2, pad=1)
    assert g.shape == (3 * 5 + 1, 2 * 6 + 1, 3)
    assert (g[1:5, 1:6] == 0).all() and (g[1:5, 7:12] == 40).all() and (g[11:15, 1:6] == 160).all()
    assert (g[11:15, 7:12] == 255).all()  # the empty cell stays white
    with pytest.raises(InputError):
        grid([], ncol=2)


@pytest.mark.parametrize("labels", ["prefixed", "stacked"])
def test_label_inputs_match_by_name_or_one_stacked_input(engine, tmp_path, labels) -> None:
    """Any latent name, label_/_id names or one [N, K] input: the images are the same."""
    path = tiny_generator(
        tmp_path / "g.onnx", labels, latent="noise", image=ImageConvention(range=(-1.0, 1.0))
    )
    with load(path, backend="onnxruntime") as other:
        plan = generator_plan(other)
        assert plan.latent_input.name == "noise" and plan.latent == LATENT
        want = {"label_category": ["category"], "color_id": ["color"]}
        assert plan.label_inputs == (want if labels == "prefixed" else {"labels": list(VOCAB)})
        got, got_labels = generate(other, {"color": "red"}, n=6, seed=9)
    want_images, want_labels = generate(engine, {"color": "red"}, n=6, seed=9)
    assert got_labels == want_labels
    assert np.array_equal(np.stack(got), np.stack(want_images))


def test_output_range_comes_from_the_spec_else_the_default(engine, tmp_path) -> None:
    """The pipeline used to assume (-1, 1) without a spec convention, the server (0, 1)."""
    assert generator_plan(engine).conv.range == (-1.0, 1.0)
    with load(tiny_generator(tmp_path / "g.onnx"), backend="onnxruntime") as bare:
        plan = generator_plan(bare)
        assert plan.conv == ImageConvention()  # the one default: range (0, 1)
        z = np.zeros((1, LATENT), np.float32)
        ids = {"category": np.array([0]), "color": np.array([0])}
        y = bare.run({"z": z, "category": ids["category"], "color": ids["color"]})["image"]
        want = np.clip(np.rint(y[0].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(sample(bare, z, ids)[0], want)


def test_a_model_that_is_not_a_generator_is_one_line(models) -> None:
    with pytest.raises(InputError, match="'enhance' model, not a generator"):
        generate(load(models["affine"], backend="onnxruntime"), n=1)
    with pytest.raises(InputError, match="without a ModelSpec"):
        generate(load(models["foreign"], backend="onnxruntime"), n=1)


def test_unmatched_label_inputs_are_a_model_error(tmp_path) -> None:
    path = tiny_generator(tmp_path / "g.onnx")
    model = onnx.load(str(path))
    spec = ModelSpec.from_json(model.metadata_props[0].value)
    spec.labels = {"shape": ["round"], "size": ["s"], "finish": ["matte"]}
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="cannot match .* to its spec labels"):
        generator_plan(load(path, backend="onnxruntime"))


def _ptx() -> LazyGroup:
    """The command as `ptx run generate` wires it (PtxError -> one line, exit 2)."""
    return LazyGroup(lazy={"generate": "ptx.runtime.cli.run_generate:run_generate_cmd"})


def test_cli_writes_images_grid_and_json(model_path, tmp_path) -> None:
    out, grid_png = tmp_path / "out", tmp_path / "grid.png"
    args = ["generate", "--model", str(model_path), "--label", "category=mug", "--n", "6"]
    args += ["--seed", "1", "--out", str(out), "--grid", str(grid_png), "--json"]
    result = CliRunner().invoke(_ptx(), args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["images"]) == 6 and all(i["category"] == "mug" for i in report["images"])
    assert sorted(p.name for p in out.iterdir()) == sorted(
        Path(i["path"]).name for i in report["images"]
    )
    assert read_image(out / Path(report["images"][0]["path"]).name).shape == (SIDE, SIDE, 3)
    assert read_image(grid_png).shape == (2 * (SIDE + 2) + 2, 3 * (SIDE + 2) + 2, 3)


@pytest.mark.parametrize(
    "extra, text",
    [
        (["--label", "category=sofa"], "valid values: bottle, mug, watch"),
        (["--label", "category"], "use KEY=VALUE"),
        (["--n", "0"], "at least 1"),
    ],
)
def test_cli_bad_input_one_line_nothing_written(model_path, tmp_path, extra, text) -> None:
    out = tmp_path / "out"
    args = ["generate", "--model", str(model_path), "--out", str(out), *extra]
    result = CliRunner().invoke(_ptx(), args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error:") and text in result.stderr
    assert not out.exists()

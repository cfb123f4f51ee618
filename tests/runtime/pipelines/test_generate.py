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
from ptx.errors import InputError
from ptx.io import read_image
from ptx.runtime import load
from ptx.runtime.pipelines.generate import generate, grid, label_ids
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx

LATENT, SIDE = 6, 8
VOCAB = {"category": ["bottle", "mug", "watch"], "color": ["blue", "red"]}


def tiny_generator(path: Path) -> Path:
    """tanh(z @ W + E_category[category] + E_color[color]) reshaped to [batch, 3, SIDE, SIDE]."""
    rng = np.random.default_rng(0)
    pixels = 3 * SIDE * SIDE
    inits = [
        nh.from_array(rng.normal(0, 0.5, (LATENT, pixels)).astype(np.float32), "w"),
        nh.from_array(rng.normal(0, 1.0, (3, pixels)).astype(np.float32), "e_cat"),
        nh.from_array(rng.normal(0, 1.0, (2, pixels)).astype(np.float32), "e_col"),
        nh.from_array(np.array([-1, 3, SIDE, SIDE], np.int64), "shape"),
    ]
    nodes = [
        h.make_node("MatMul", ["z", "w"], ["zw"]),
        h.make_node("Gather", ["e_cat", "category"], ["ec"], axis=0),
        h.make_node("Gather", ["e_col", "color"], ["ek"], axis=0),
        h.make_node("Add", ["zw", "ec"], ["s1"]),
        h.make_node("Add", ["s1", "ek"], ["s2"]),
        h.make_node("Tanh", ["s2"], ["t"]),
        h.make_node("Reshape", ["t", "shape"], ["image"]),
    ]
    graph = h.make_graph(
        nodes,
        "gen",
        [
            h.make_tensor_value_info("z", TP.FLOAT, ["batch", LATENT]),
            h.make_tensor_value_info("category", TP.INT64, ["batch"]),
            h.make_tensor_value_info("color", TP.INT64, ["batch"]),
        ],
        [h.make_tensor_value_info("image", TP.FLOAT, ["batch", 3, SIDE, SIDE])],
        inits,
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    b = ["batch"]
    spec = ModelSpec(
        task="generate",
        family="gan",
        inputs=[
            TensorSpec("z", "float32", b + [LATENT]),
            TensorSpec("category", "int64", b),
            TensorSpec("color", "int64", b),
        ],
        outputs=[TensorSpec("image", "float32", b + [3, SIDE, SIDE])],
        image=ImageConvention(range=(-1.0, 1.0)),
        labels=VOCAB,
        latent_size=LATENT,
        profile=ShapeProfile(
            min={"z": [1, LATENT], "category": [1], "color": [1]},
            opt={"z": [4, LATENT], "category": [4], "color": [4]},
            max={"z": [64, LATENT], "category": [64], "color": [64]},
        ),
    )
    embed_in_onnx(model, spec)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return tiny_generator(tmp_path_factory.mktemp("gen") / "gan.onnx")


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
    imgs = [np.full((4, 5, 3), i * 40, np.uint8) for i in range(5)]
    g = grid(imgs, nrow=2, pad=1)
    assert g.shape == (3 * 5 + 1, 2 * 6 + 1, 3)
    assert (g[1:5, 1:6] == 0).all() and (g[1:5, 7:12] == 40).all() and (g[11:15, 1:6] == 160).all()
    assert (g[11:15, 7:12] == 255).all()  # the empty cell stays white
    with pytest.raises(InputError):
        grid([], nrow=2)


def _ptx() -> LazyGroup:
    """The command as `ptx run generate` wires it (PtxError -> one line, exit 2)."""
    return LazyGroup(lazy={"generate": "ptx.runtime.cli.generate:run_generate_cmd"})


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

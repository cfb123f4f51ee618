"""GAN metrics: distance math, collapse -> ratio 0, perfect labels -> 1, a real end-to-end run."""

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
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx
from ptx.training.data.catalogue import write_catalogue
from ptx.training.gan.classifier import train_classifier
from ptx.training.gan.metrics import (
    conditional_accuracy,
    diversity,
    diversity_report,
    evaluate_gan,
    mean_pairwise_distance,
    thumbnails,
)

SIDE, LATENT = 16, 4


def test_mean_pairwise_distance() -> None:
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    assert mean_pairwise_distance(np.array([[0.0], [1.0], [3.0]])) == pytest.approx(2.0)
    assert np.isnan(mean_pairwise_distance(np.zeros((1, 3))))
    groups = {"a": np.array([[0.0], [2.0]]), "b": np.array([[0.0], [4.0]]), "c": np.ones((1, 1))}
    assert diversity(groups) == pytest.approx(3.0)  # singletons carry no diversity information


def test_thumbnails_area_average() -> None:
    img = np.zeros((1, 64, 64, 3), np.uint8)
    img[:, :, 32:] = 255
    t = thumbnails(img).reshape(16, 16, 3)
    assert (t[:, :8] == 0).all() and (t[:, 8:] == 1).all()
    assert thumbnails(np.zeros((2, 20, 20, 3), np.uint8)).shape == (2, 16 * 16 * 3)


def test_collapsed_generator_scores_zero_and_faithful_one() -> None:
    rng = np.random.default_rng(0)
    ids = {"category": np.repeat([0, 1], 6), "color": np.tile([0, 0, 1], 4)}
    real = rng.integers(0, 256, (12, SIDE, SIDE, 3), dtype=np.uint8)
    feats = rng.normal(size=(12, 8))
    collapsed = real.copy()
    collapsed_feats = feats.copy()
    for key in set(zip(ids["category"], ids["color"], strict=True)):
        rows = np.flatnonzero((ids["category"] == key[0]) & (ids["color"] == key[1]))
        collapsed[rows] = collapsed[rows[0]]  # one image per label pair
        collapsed_feats[rows] = collapsed_feats[rows[0]]
    report = diversity_report(collapsed, collapsed_feats, ids, real, feats, ids)
    assert report["diversity_pixel_ratio"] < 1e-6 and report["diversity_feature_ratio"] < 1e-6
    same = diversity_report(real, feats, ids, real, feats, ids)
    assert same["diversity_ratio"] == pytest.approx(1.0)


def test_conditional_accuracy() -> None:
    want = {"category": np.array([0, 1, 2, 3]), "color": np.array([1, 1, 0, 0])}
    perfect = conditional_accuracy({k: v.copy() for k, v in want.items()}, want)
    assert perfect == {"category_accuracy": 1.0, "color_accuracy": 1.0, "joint_accuracy": 1.0}
    half = conditional_accuracy(
        {"category": want["category"], "color": np.array([1, 0, 1, 0])}, want
    )
    assert half == {"category_accuracy": 1.0, "color_accuracy": 0.5, "joint_accuracy": 0.5}


def _generator(path: Path, categories: list[str], colors: list[str]) -> Path:
    """A real ONNX generator: tanh(z @ W + E_category[category] + E_color[color]), NCHW."""
    rng = np.random.default_rng(1)
    px = 3 * SIDE * SIDE
    inits = [
        nh.from_array(rng.normal(0, 0.3, (LATENT, px)).astype(np.float32), "w"),
        nh.from_array(rng.normal(0, 1, (len(categories), px)).astype(np.float32), "ec"),
        nh.from_array(rng.normal(0, 1, (len(colors), px)).astype(np.float32), "ek"),
        nh.from_array(np.array([-1, 3, SIDE, SIDE], np.int64), "shape"),
    ]
    nodes = [
        h.make_node("MatMul", ["z", "w"], ["a"]),
        h.make_node("Gather", ["ec", "category"], ["b"]),
        h.make_node("Gather", ["ek", "color"], ["c"]),
        h.make_node("Sum", ["a", "b", "c"], ["s"]),
        h.make_node("Tanh", ["s"], ["t"]),
        h.make_node("Reshape", ["t", "shape"], ["image"]),
    ]
    inputs = [
        h.make_tensor_value_info("z", TP.FLOAT, ["batch", LATENT]),
        h.make_tensor_value_info("category", TP.INT64, ["batch"]),
        h.make_tensor_value_info("color", TP.INT64, ["batch"]),
    ]
    out = [h.make_tensor_value_info("image", TP.FLOAT, ["batch", 3, SIDE, SIDE])]
    model = h.make_model(
        h.make_graph(nodes, "g", inputs, out, inits), opset_imports=[h.make_opsetid("", 17)]
    )
    model.ir_version = 8
    spec = ModelSpec(
        task="generate",
        family="gan",
        inputs=[TensorSpec("z", "float32", ["batch", LATENT])]
        + [TensorSpec(k, "int64", ["batch"]) for k in ("category", "color")],
        outputs=[TensorSpec("image", "float32", ["batch", 3, SIDE, SIDE])],
        image=ImageConvention(range=(-1.0, 1.0)),
        labels={"category": categories, "color": colors},
        latent_size=LATENT,
    )
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    data = root / "cat"
    summary = write_catalogue(data, n=150, size=SIDE, seed=0, progress=False, workers=1)
    clf = root / "clf"
    train_classifier(data, clf, steps=5, batch=8, size=SIDE, width=4, progress=False, threads=1)
    gan = _generator(root / "gan.onnx", summary.categories, summary.colors)
    return {"data": data, "clf": clf, "gan": gan, "root": root}


def test_evaluate_runs_the_onnx_generator_end_to_end(setup) -> None:
    report = evaluate_gan(setup["gan"], setup["clf"], setup["data"], n=40, seed=0, progress=False)
    assert report["samples"] == 40 and report["label_pairs"] >= 2
    for key in ("category_accuracy", "color_accuracy", "joint_accuracy", "real_category_accuracy"):
        assert 0.0 <= report[key] <= 1.0
    assert report["joint_accuracy"] <= min(report["category_accuracy"], report["color_accuracy"])
    assert report["diversity_pixel_real"] > 0 and report["diversity_pixel_generated"] > 0
    assert report["diversity_ratio"] == min(
        report["diversity_pixel_ratio"], report["diversity_feature_ratio"]
    )
    assert report["classifier"]["steps"] == 5
    again = evaluate_gan(setup["gan"], setup["clf"], setup["data"], n=40, seed=0, progress=False)
    assert again["diversity_pixel_generated"] == report["diversity_pixel_generated"]  # seeded


def test_mismatched_vocabulary_and_bad_n(setup) -> None:
    none = _generator(setup["root"] / "none.onnx", ["sofa", "lamp"], ["red", "blue"])
    with pytest.raises(InputError, match="no image has labels"):
        evaluate_gan(none, setup["clf"], setup["data"], n=4, progress=False)
    some = _generator(setup["root"] / "some.onnx", ["sofa", "mug"], ["red", "blue"])
    with pytest.raises(ModelError, match="classifier does not know category sofa"):
        evaluate_gan(some, setup["clf"], setup["data"], n=4, progress=False)
    with pytest.raises(InputError, match="at least 2"):
        evaluate_gan(setup["gan"], setup["clf"], setup["data"], n=1, progress=False)
    with pytest.raises(ModelError, match="not a classifier folder"):
        evaluate_gan(setup["gan"], setup["root"], setup["data"], n=4, progress=False)


def test_cli_writes_json_report(setup, tmp_path) -> None:
    group = LazyGroup(lazy={"gan": "ptx.training.cli.eval_gan:eval_gan_cmd"})
    dest = tmp_path / "eval.json"
    args = ["gan", "--model", str(setup["gan"]), "--classifier", str(setup["clf"])]
    args += ["--data", str(setup["data"]), "--n", "20", "--json", str(dest)]
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 0, result.output
    assert "conditional accuracy: category" in result.stdout
    assert json.loads(dest.read_text())["samples"] == 20
    bad = CliRunner().invoke(group, [*args[:-4], "--n", "1"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error:") and "at least 2" in bad.stderr

"""The metrics' classifier: learns a separable set, saves and reloads exactly, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ptx.errors import InputError, ModelError
from ptx.training.gan.classifier import META, WEIGHTS, accuracy, load_classifier, train_classifier
from ptx.training.gan.data import load_labelled


@pytest.fixture(scope="module")
def two_colours(tmp_path_factory) -> Path:
    """A user's ImageFolder: category sub-folders, no labels.csv, no colour labels."""
    root = tmp_path_factory.mktemp("user")
    rng = np.random.default_rng(0)
    for name, rgb in (("tomato", (200, 30, 30)), ("berry", (30, 40, 200))):
        (root / name).mkdir()
        for i in range(12):
            noisy = np.clip(np.array(rgb) + rng.normal(0, 25, (16, 16, 3)), 0, 255)
            Image.fromarray(noisy.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def trained(two_colours, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clf") / "clf"
    metrics = train_classifier(
        two_colours, out, steps=40, batch=8, size=16, width=4, progress=False, threads=1
    )
    return out, metrics


def test_learns_a_separable_folder_and_reports_it(trained) -> None:
    out, metrics = trained
    assert metrics["category_accuracy"] == 1.0  # red vs blue, with sub-folder labels
    assert metrics["held_out_split"].startswith("train")  # no labels.csv: says so
    assert metrics["steps"] == 40 and metrics["train_images"] == 24
    meta = json.loads((out / META).read_text())
    assert meta["vocab"] == {"category": ["berry", "tomato"], "color": ["any"]}
    assert meta["metrics"]["category_accuracy"] == 1.0 and len(meta["sha256"]) == 64


def test_reload_gives_the_same_scores(trained, two_colours) -> None:
    out, metrics = trained
    model, meta = load_classifier(out)
    data = load_labelled(two_colours, meta["size"], vocab=meta["vocab"])
    assert accuracy(model, data) == {
        "category_accuracy": metrics["category_accuracy"],
        "color_accuracy": metrics["color_accuracy"],
    }


def test_bad_input(tmp_path, two_colours) -> None:
    with pytest.raises(ModelError, match="not a classifier folder"):
        load_classifier(tmp_path)
    (tmp_path / WEIGHTS).write_bytes(b"junk")
    (tmp_path / META).write_text(json.dumps({"vocab": {"category": ["a"], "color": ["b"]}}))
    with pytest.raises(ModelError, match="unreadable or mismatched"):
        load_classifier(tmp_path)
    with pytest.raises(InputError, match="steps >= 1"):
        train_classifier(two_colours, tmp_path / "x", steps=0, progress=False)
    assert not (tmp_path / "x").exists()


def test_predict_takes_pixels_and_applies_the_classifiers_own_convention(trained) -> None:
    import torch

    from ptx.training.gan.classifier import INPUT, predict

    model, meta = load_classifier(trained[0])
    u8 = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    lo, hi = INPUT.bounds()
    assert lo.tolist() == [-1.0] * 3 and hi.tolist() == [1.0] * 3  # the generator's range
    with torch.no_grad():
        want = model(torch.from_numpy(INPUT.to_model(u8)))[2].numpy()
    np.testing.assert_allclose(predict(model, u8, size=16)["features"], want, rtol=1e-5)

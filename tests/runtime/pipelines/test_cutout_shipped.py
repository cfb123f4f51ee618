"""The cut-out model that ships with ptx: a real cutout spec, quality on renders and a real
product photo it never trained on, and the defaults that use it (`ptx run cutout`, compose)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ptx.benchmarks.studies.cutout_eval import composite
from ptx.cli import main
from ptx.io import write_image
from ptx.runtime import load
from ptx.runtime.pipelines.cutout import SHIPPED_MODEL, cutout_alpha
from ptx.training.cutout.data import held_out
from ptx.training.cutout.metrics import alpha_iou, alpha_mae


@pytest.fixture(scope="module")
def shipped():
    """The shipped model on ONNX Runtime (the auto trial is not what these tests are about)."""
    return load(SHIPPED_MODEL, backend="onnxruntime", threads=1)


def test_shipped_model_is_a_small_cutout_model_with_its_spec(shipped) -> None:
    assert SHIPPED_MODEL.stat().st_size < 4 << 20  # a few MB at most
    assert shipped.spec.family == "cutout" and shipped.spec.task == "cutout"
    assert shipped.spec.config["flip_average"] is True
    assert shipped.spec.config["refine"] == "grabcut"
    assert int(shipped.spec.config["work_side"]) >= 160
    assert int(shipped.spec.config["refiner"]) > 0  # the edge refiner over the c18 net


def test_shipped_model_cuts_out_renders_it_never_saw(shipped) -> None:
    # Renders of the evaluation's held-out seed (every other one degraded): the weights that
    # ship score ~0.94 mean IoU on cutout_eval's 100; a broken or swapped file scores ~0.
    pairs = held_out(0, 6, 256)
    alphas = cutout_alpha(shipped, [rgb for rgb, _ in pairs])
    ious = [alpha_iou(a, t) for a, (_, t) in zip(alphas, pairs, strict=True)]
    maes = [alpha_mae(a, t) for a, (_, t) in zip(alphas, pairs, strict=True)]
    assert np.mean(ious) > 0.85, ious
    assert np.mean(maes) < 0.05, maes


@pytest.mark.parametrize("backdrop", ["white", "grey"])
def test_shipped_model_cuts_a_real_product_off_a_plain_backdrop(shipped, backdrop) -> None:
    # matplotlib's "Minduka present" (a real product image with its own alpha), as cutout_eval
    # composites it: the shipped model scores 0.945 / 0.911 IoU there.
    rgb, truth = composite("present", backdrop, 256)
    alpha = cutout_alpha(shipped, [rgb])[0]
    assert alpha_iou(alpha, truth) > 0.85
    assert alpha_mae(alpha, truth) < 0.05


def test_run_cutout_without_model_uses_the_shipped_one(tmp_path: Path) -> None:
    ((rgb, _),) = held_out(0, 1, 128)
    write_image(tmp_path / "in" / "shot.jpg", rgb)
    args = ["--input", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--threads", "1"]
    args += ["--no-progress", "--trial-shape", "image:2x3x128x128"]
    res = CliRunner().invoke(main, ["run", "cutout", *args])
    assert res.exit_code == 0, res.output
    out = np.asarray(Image.open(tmp_path / "out" / "shot.png"))
    assert out.shape == (128, 128, 4)
    assert 0 < (out[..., 3] > 127).mean() < 1  # a product and a backdrop, not all or nothing

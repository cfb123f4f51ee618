"""The cut-out evaluation: exact composites, the classical baselines, and the whole study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from ptx.benchmarks.studies import cutout_eval as ce
from tests.runtime.pipelines.test_cutout import cutout_model


def test_composites_carry_their_exact_alpha() -> None:
    for fg in ce.FOREGROUNDS:
        rgb, alpha = ce.composite(fg, "white", 64)
        assert rgb.shape == (64, 64, 3) and alpha.shape == (64, 64)
        assert 0.05 < (alpha > 0.5).mean() < 0.9, fg
        assert (rgb[alpha == 0] == 255).all(), fg  # the backdrop, untouched
    black, a1 = ce.composite("present", "astronaut", 64)
    grey, a2 = ce.composite("present", "grey", 64)
    assert np.array_equal(a1, a2)
    full = a1 >= 1.0
    assert full.sum() > 100 and np.abs(black[full].astype(int) - grey[full]).max() <= 1


def test_baselines_find_a_disc_on_a_plain_backdrop() -> None:
    yy, xx = np.mgrid[0:80, 0:80]
    disc = ((yy - 40) ** 2 + (xx - 38) ** 2 < 22**2).astype(np.float32)
    rgb = np.where(disc[..., None] > 0, [30, 90, 200], [245, 245, 245]).astype(np.uint8)
    for fn in (ce.grabcut_alpha, ce.threshold_alpha):
        pred = fn(rgb)
        assert pred.shape == disc.shape and pred.min() >= 0 and pred.max() <= 1
        iou = ((pred > 0.5) & (disc > 0.5)).sum() / ((pred > 0.5) | (disc > 0.5)).sum()
        assert iou > 0.9, fn.__name__


def test_the_study_writes_its_table_json_and_sheet(tmp_path: Path) -> None:
    model = cutout_model(tmp_path / "cutout.onnx")
    out = tmp_path / "results"
    args = ["--model", str(model), "--synthetic", "2", "--size", "48", "--out", str(out)]
    result = CliRunner().invoke(ce.main, args)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "cutout_eval.json").read_text())
    n_real = len(ce.FOREGROUNDS) * len(ce.BACKGROUNDS)
    assert data["summary"]["synthetic"]["images"] == 2
    assert data["summary"]["real"]["images"] == n_real
    n_plain = len(ce.FOREGROUNDS) * len(ce.PLAIN)
    assert data["summary"]["real_plain"]["images"] == n_plain
    assert data["summary"]["real_photo"]["images"] == n_real - n_plain
    for m in ce.METHODS:
        s = data["summary"]["real"][m]
        assert 0.0 <= s["iou"] <= 1.0 and 0.0 <= s["mae"] <= 1.0
    # "Bright is product" is wrong on a white backdrop: the study must say so, not hide it.
    white = [r for r in data["real"] if r["image"] == "present@white"][0]
    assert white["model"]["iou"] < 0.5
    assert "| real (" in (out / "cutout_eval.md").read_text()
    from PIL import Image

    sheet = Image.open(out / "cutout_eval_sheet.png")
    assert sheet.size == (48 * 5, 48 * (2 + len(ce.SHEET_REAL)))

"""`ptx demo --quick`: every stage runs end to end and the report holds what it promises."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.io import read_image


@pytest.mark.slow
def test_quick_demo_writes_models_report_and_grids(tmp_path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    for heading in ("## held-out catalogue", "## real photos", "| stage | seconds | result |"):
        assert heading in report
    assert "![real photos](grid-real.png)" in report
    for name in ("grid-real.png", "grid-catalogue.png"):
        grid = read_image(out / name)
        assert grid.shape[0] > 100 and grid.std() > 10  # a picture, not a blank canvas
    assert (out / "models" / "enhance.onnx").stat().st_size > 1000
    assert (out / "models" / "enhance-fp16.onnx").is_file()
    stages = json.loads((out / "report.json").read_text())["stages"]
    names = [s["name"] for s in stages]
    assert names[0] == "synthesise catalogue" and "evaluate through ptx.runtime" in names
    real = next(s for s in stages if s["name"] == "evaluate through ptx.runtime")["data"]
    means = real["real photos"]["mean"]
    assert set(means) == {"degraded", "classical", "model"}
    assert all(np.isfinite(v["psnr"]) for v in means.values())
    assert not list(out.rglob("*.part"))
    for name in ("vae-encoder.onnx", "vae-decoder.onnx", "style.onnx", "gan.onnx"):
        assert (out / "models" / name).is_file(), name
    for name in ("vae-strip.png", "style-sheet.png", "gan-grid.png"):
        assert read_image(out / name).std() > 5, name
        assert f"]({name})" in report
    # the studio stage: cut-out and try-on models beside the others, and its pictures
    for name in ("cutout.onnx", "tryon.onnx"):
        assert (out / "models" / name).is_file(), name
    sizes = {
        "studio/display.png": (1000, 1000),
        "studio/ad-1200x628.png": (628, 1200),
        "studio/ad-1080x1080.png": (1080, 1080),
    }
    for name, hw in sizes.items():
        assert read_image(out / name).shape[:2] == hw, name
    for name in ("studio/compare.png", "studio/display-combination.png", "tryon-sheet.png"):
        assert read_image(out / name).std() > 5, name
        assert f"]({name})" in report
    assert read_image(out / "personalised-grid.png").std() > 5
    # a 6-second cut-out training is scored beside the shipped model (on 48 px renders here),
    # which wins and cuts out the compose stage's products
    cut = next(s for s in stages if s["name"] == "cut-out model")["data"]
    assert cut["shipped"]["iou"] > max(0.6, cut["iou"]) and cut["compose_model"] == "shipped"
    profile = next(s for s in stages if s["name"] == "personalised variants")["data"]
    assert sum(profile["counts"].values()) == 16

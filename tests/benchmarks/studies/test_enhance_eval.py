"""The enhancer's independent evaluation: seeded albumentations degradations, scores, command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.benchmarks.harness.models import export_onnx, family_model
from ptx.benchmarks.studies import enhance_eval, enhance_eval_report
from ptx.errors import InputError

pytest.importorskip("albumentations")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return enhance_eval.load_photos(["coffee"], max_side=64)["coffee"]


def test_photos_are_real_and_capped() -> None:
    photos = enhance_eval.load_photos(["astronaut", "grace_hopper"], max_side=96)
    assert set(photos) == {"astronaut", "grace_hopper"}
    assert all(p.dtype == np.uint8 and max(p.shape[:2]) <= 96 for p in photos.values())
    with pytest.raises(InputError, match="unknown photo"):
        enhance_eval.load_photos(["lena"])


def test_degradations_are_seeded_and_go_both_ways(photo) -> None:
    for name in enhance_eval.DEGRADATIONS:
        a, b = enhance_eval.degrade(photo, name, 3), enhance_eval.degrade(photo, name, 3)
        assert a.shape == photo.shape and np.array_equal(a, b), name
        assert not np.array_equal(a, photo), name
    mean = float(photo.mean())
    assert enhance_eval.degrade(photo, "brighter", 0).mean() > mean + 10
    assert enhance_eval.degrade(photo, "darker", 0).mean() < mean - 10
    with pytest.raises(InputError, match="unknown degradation"):
        enhance_eval.degrade(photo, "sepia", 0)


def test_identity_scores_and_summary(photo) -> None:
    result = enhance_eval.evaluate({"coffee": photo}, lambda x: x, ["darker", "jpeg"])
    assert result["clean"][0]["model"] == {"psnr": 100.0, "ssim": 1.0, "de2000": 0.0}
    assert [r["degradation"] for r in result["pairs"]] == ["darker", "jpeg"]
    for r in result["pairs"]:
        assert r["model"] == r["degraded"]
    s = result["summary"]
    assert s["mean_gain_db"] == 0.0 and s["worst_pair_gain_db"] == 0.0
    assert s["met"]["clean_median"] and not s["met"]["mean_gain"]
    md = enhance_eval_report.markdown(result, "identity")
    assert "| coffee x darker |" in md and "## Clean photos" in md


def test_command_runs_an_onnx_model_and_writes_results(tmp_path) -> None:
    model = family_model("enhance", config={"width": 8, "thumb": 16, "levels": 4, "knots": 4})
    onnx_path = export_onnx(model, tmp_path / "enhance.onnx", size=(64, 64))
    args = ["--model", str(onnx_path), "--photos", "present", "--degradations", "jpeg"]
    args += ["--catalogue", "3"]
    res = CliRunner().invoke(
        enhance_eval.main, [*args, "--max-side", "48", "--out", str(tmp_path / "r"), "--json"]
    )
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "r" / "enhance_eval.json").read_text())
    assert saved["clean"][0]["model"]["psnr"] > 60  # a fresh enhancer is the identity
    other = saved["other_clean"]
    assert [r["photo"] for r in other["rows"]] == list(enhance_eval.OTHER_PHOTOS)
    assert other["worst_db"] > 60 and saved["summary"]["other_clean_worst_db"] == other["worst_db"]
    cat = saved["catalogue_clean"]
    assert cat["images"] == 3 and cat["worst_db"] > 60 and cat["share_harmed"] == 0.0
    md = (tmp_path / "r" / "enhance_eval.md").read_text()
    assert md.startswith("# Enhancer evaluation") and "| moon |" in md
    assert "3 renders (seed 991)" in md
    det = saved["detail_clean"]
    assert [r["photo"] for r in det["rows"]] == ["present sharpened", "present halved unfiltered"]
    assert det["worst_db"] > 60 and "| present sharpened |" in md


def test_detail_variants_carry_more_detail_and_softening_them_is_harm(photo) -> None:
    from PIL import Image, ImageFilter

    variants = enhance_eval.detail_variants({"coffee": photo})
    sharp, halved = variants["coffee sharpened"], variants["coffee halved unfiltered"]
    assert halved.shape[:2] == ((photo.shape[0] + 1) // 2, (photo.shape[1] + 1) // 2)

    def detail(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x.astype(float), axis=1)).mean())

    assert detail(sharp) > detail(photo) * 1.1

    def soften(x: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(x).filter(ImageFilter.GaussianBlur(1.0)))

    assert enhance_eval.detail_clean({"coffee": photo}, soften)["worst_db"] < 35
    assert enhance_eval.detail_clean({"coffee": photo}, lambda x: x)["worst_db"] == 100.0


def test_catalogue_renders_count_a_greyed_white_backdrop_as_harm() -> None:
    def grey_whites(x: np.ndarray) -> np.ndarray:
        return np.where(x > 250, 230, x).astype(np.uint8)

    cat = enhance_eval.catalogue_clean(grey_whites, n=4)
    assert cat["share_harmed"] > 0 and cat["worst_db"] < enhance_eval.HARM_DB
    same = enhance_eval.catalogue_clean(lambda x: x, n=4)
    assert same == {**same, "worst_db": 100.0, "share_harmed": 0.0}


def test_other_photos_are_rgb_and_outside_the_targets() -> None:
    photos = enhance_eval.load_photos(enhance_eval.OTHER_PHOTOS, max_side=64)
    assert not set(photos) & set(enhance_eval.PHOTOS)
    assert all(p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8 for p in photos.values())
    dark = enhance_eval.other_clean(lambda x: (x // 2).astype(np.uint8), max_side=64)
    assert dark["worst_db"] < dark["median_db"] + 1e-9 and dark["worst_db"] < 30


def test_strength_blends_input_and_output() -> None:
    img = np.full((4, 4, 3), 100, np.uint8)
    out = np.full((4, 4, 3), 200, np.uint8)
    assert np.array_equal(enhance_eval.blend(img, out, 0.0), img)
    assert np.array_equal(enhance_eval.blend(img, out, 1.0), out)
    assert int(enhance_eval.blend(img, out, 0.5)[0, 0, 0]) == 150
    with pytest.raises(InputError, match="strength"):
        enhance_eval.model_enhancer("unused.onnx", strength=1.5)

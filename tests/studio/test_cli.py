"""`ptx compose`: real files through the real models; one line and nothing written on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from ptx.cli import main


def run(*args: str):
    return CliRunner().invoke(main, ["compose", *args], catch_exceptions=False)


def size_and_format(path: Path) -> tuple[tuple[int, int], str]:
    with Image.open(path) as img:
        return img.size, img.format


def test_display_from_a_photo_through_enhancer_and_cutout(
    models: dict[str, Path], products: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out" / "hero.jpg"
    result = run(
        "display", "--input", str(products["photo"]), "--out", str(out),
        "--cutout-model", str(models["cutout"]), "--size", "300x200",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert size_and_format(out) == ((300, 200), "JPEG")
    assert f"wrote {out}" in result.output


def test_display_from_a_photo_without_cutout_model_uses_the_shipped_one(
    products: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "hero.png"
    result = run("display", "--input", str(products["photo"]), "--out", str(out),
                 "--size", "240x240", "--no-enhance", "--threads", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    img = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)
    assert img.shape == (240, 240, 3)
    # the photo's own backdrop is keyed out: the frame's corners are the white background,
    # and the product (a coloured box on white) is on it
    assert (img[:8, :8] >= 250).all() and (img[-8:, -8:] >= 240).all()
    assert (np.abs(img - 255).sum(axis=2) > 60).mean() > 0.02


def test_no_refine_turns_the_cutout_refinement_off(
    products: dict[str, Path], tmp_path: Path, monkeypatch
) -> None:
    import ptx.studio.models as studio_models

    seen = []

    def spy(engine, images, **kw):
        seen.append(kw.get("refine", "missing"))
        return real(engine, images, **kw)

    real = studio_models.cutout_alpha
    monkeypatch.setattr(studio_models, "cutout_alpha", spy)
    for flag in ([], ["--no-refine"]):
        out = tmp_path / f"hero{len(flag)}.png"
        result = run("display", "--input", str(products["photo"]), "--out", str(out),
                     "--size", "160x160", "--no-enhance", "--threads", "1", *flag)  # fmt: skip
        assert result.exit_code == 0, result.output
    assert seen == [None, False]  # None: the spec decides (the shipped cut-out says grabcut)


def test_rgba_products_never_load_the_cutout_model(
    products: dict[str, Path], tmp_path: Path
) -> None:
    # the model loads when a product first needs it: here none does, so a missing file is fine
    result = run("display", "--input", str(products["red"]), "--out", str(tmp_path / "r.png"),
                 "--cutout-model", str(tmp_path / "missing.onnx"), "--no-enhance")  # fmt: skip
    assert result.exit_code == 0, result.output


def test_display_single_per_product_into_a_folder_and_grid(
    products: dict[str, Path], tmp_path: Path
) -> None:
    layout = tmp_path / "t.json"
    layout.write_text(json.dumps({"display": {"size": [120, 90], "background": "#f0f0f0"}}))
    rgba = [products[k] for k in ("red", "green", "blue")]
    args = [a for p in rgba for a in ("--input", str(p))]
    folder = tmp_path / "singles"
    result = run("display", *args, "--out", str(folder), "--layout", str(layout),
                 "--arrangement", "single", "--no-enhance", "--format", "webp")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["blue.webp", "green.webp", "red.webp"]
    assert all(size_and_format(p) == ((120, 90), "WEBP") for p in folder.iterdir())
    result = run("display", *args, "--out", str(tmp_path / "grid.png"), "--layout", str(layout),
                 "--no-enhance")  # fmt: skip
    assert result.exit_code == 0 and size_and_format(tmp_path / "grid.png")[0] == (120, 90)


def test_compare_and_ad(models: dict[str, Path], products: dict[str, Path], tmp_path: Path):
    csv = tmp_path / "c.csv"
    csv.write_text("image,name,price\nred.png,Red thing,€1\nblue.png,Blue thing,€2\n")
    args = ["--input", str(products["red"]), "--input", str(products["blue"])]
    result = run("compare", *args, "--captions", str(csv), "--out", str(tmp_path / "c.png"),
                 "--size", "400x250", "--no-enhance")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert size_and_format(tmp_path / "c.png")[0] == (400, 250)
    result = run(
        "ad", "--input", str(products["red"]), "--out", str(tmp_path / "ads"),
        "--style-model", str(models["style"]), "--size", "240x126", "--size", "150x150",
        "--headline", "Fresh", "--cta", "Buy",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ads = sorted((tmp_path / "ads").iterdir())
    assert [p.name for p in ads] == ["red-150x150.png", "red-240x126.png"]
    assert [size_and_format(p)[0] for p in ads] == [(150, 150), (240, 126)]
    result = run("ad", *args, "--out", str(tmp_path / "two.jpg"), "--size", "200x100",
                 "--no-enhance")  # fmt: skip
    assert result.exit_code == 0, result.output
    made = sorted(p.name for p in tmp_path.glob("two-*"))
    assert made == ["two-blue-200x100.jpg", "two-red-200x100.jpg"]  # a banner per product


def test_bad_input_is_one_line_and_nothing_is_written(
    products: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cases = [
        (["display", "--input", str(products["photo"]), "--cutout-model",
          str(tmp_path / "no.onnx")], "no.onnx"),
        (["display", "--input", str(products["red"]), "--size", "12"], "--size must be WIDTHxH"),
        (["compare", "--input", str(products["red"])], "needs at least 2 products"),
        (["ad", "--input", str(products["red"]), "--background", str(tmp_path / "no.jpg")],
         "no.jpg: no such file"),
        (["display", "--input", str(tmp_path / "none")], "no such file or folder"),
    ]  # fmt: skip
    bad_layout = tmp_path / "bad.json"
    bad_layout.write_text('{"display": {"fill": 7}}')
    cases.append(
        (["display", "--input", str(products["red"]), "--layout", str(bad_layout)],
         "display.fill: must be a number in 0.05..1, got 7"),
    )  # fmt: skip
    other = tmp_path / "other" / "red.png"
    other.parent.mkdir()
    other.write_bytes(products["red"].read_bytes())
    cases.append(
        (["display", "--input", str(products["red"]), "--input", str(other), "--arrangement",
          "single"], "two products are named 'red'"),
    )  # fmt: skip
    for args, message in cases:
        result = CliRunner().invoke(main, ["compose", *args, "--out", str(out), "--no-enhance"])
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
        assert not out.exists()


def test_cli_module_is_cheap_to_import() -> None:
    code = (
        "import sys, ptx.studio.cli; "
        "names = ('torch', 'onnxruntime', 'openvino', 'tensorrt'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

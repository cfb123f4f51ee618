"""ImageFolder: labels from labels.csv or sub-folders, splits, resizing, skipped files, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ptx.cli import main
from ptx.errors import InputError
from ptx.io import write_image
from ptx.training.data.catalogue import write_catalogue
from ptx.training.data.folders import ImageFolder, fit_square


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cat")
    write_catalogue(root, 30, 32, seed=4, progress=False, workers=1)
    return root


def _rows(root: Path) -> list[dict[str, str]]:
    with open(root / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_catalogue_labels_come_from_labels_csv(catalogue: Path) -> None:
    rows = _rows(catalogue)
    ds = ImageFolder(catalogue)
    assert len(ds) == len(rows) == 30 and len(ds.skipped) == 0
    img, labels = ds[3]
    assert img.dtype == np.uint8 and img.shape == (32, 32, 3)
    assert labels == {k: rows[3][k] for k in ("category", "color", "pattern", "background")}
    assert ds.classes["category"] == sorted({r["category"] for r in rows})
    assert ds.classes["color"] == sorted({r["color"] for r in rows})
    assert set(ds.classes) == {"category", "color"}
    assert [lab for _, lab in ds[:2]] == [ds[0][1], ds[1][1]]


def test_split_filters_rows(catalogue: Path) -> None:
    rows = _rows(catalogue)
    train = ImageFolder(catalogue, split="train")
    assert len(train) == sum(r["split"] == "train" for r in rows)
    assert {p.relative_to(catalogue).as_posix() for p in train.paths} == {
        r["path"] for r in rows if r["split"] == "train"
    }
    with pytest.raises(InputError, match="no rows with split 'holdout'.*train"):
        ImageFolder(catalogue, split="holdout")


def _user_folder(root: Path) -> None:
    write_image(root / "mugs" / "a.png", np.full((20, 30, 3), 90, np.uint8))
    write_image(root / "shoes" / "summer" / "b.jpg", np.full((24, 24, 3), 160, np.uint8))
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(root / "loose.webp", lossless=True)
    Image.fromarray(np.full((9, 9), 40000, np.uint16)).save(root / "mugs" / "deep.png")
    Image.new("CMYK", (12, 12), (0, 0, 0, 255)).save(root / "shoes" / "cmyk.tiff")
    (root / "mugs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "shoes" / "zero.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not listed: no image suffix")


def test_plain_folder_labels_from_first_subfolder_and_bad_files_counted(tmp_path: Path) -> None:
    _user_folder(tmp_path)
    ds = ImageFolder(tmp_path)
    names = [p.name for p in ds.paths]
    assert names == ["loose.webp", "a.png", "deep.png", "cmyk.tiff", "b.jpg"]
    assert len(ds.skipped) == 2
    assert {Path(p).name for p, _ in ds.skipped.skipped} == {"broken.png", "zero.jpg"}
    assert [lab.get("category") for lab in ds.labels] == [None, "mugs", "mugs", "shoes", "shoes"]
    assert ds.classes == {"category": ["mugs", "shoes"]}
    assert (ds[0][0] == 255).all()  # transparent webp on white
    assert ds[2][0][0, 0].tolist() == [156, 156, 156]  # 16-bit grey, scaled
    assert ds[3][0].max() < 30  # CMYK black
    assert ds.describe() == {
        "root": str(tmp_path),
        "images": 5,
        "skipped": 2,
        "classes": {"category": ["mugs", "shoes"]},
    }


def test_size_resizes_shorter_side_then_centre_crops(tmp_path: Path) -> None:
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = (255, 0, 0)
    a[:, 20:] = (0, 0, 255)
    write_image(tmp_path / "x" / "wide.png", a)
    for cache in (True, False):
        img, labels = ImageFolder(tmp_path, size=16, cache=cache)[0]
        assert img.shape == (16, 16, 3) and labels == {"category": "x"}
        assert img[8, 2].tolist()[0] > 200 and img[8, 13].tolist()[2] > 200  # centre kept
    assert fit_square(np.zeros((5, 7, 3), np.uint8), 32).shape == (32, 32, 3)


def test_exif_orientation_applies_in_folders(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (0, 128, 0))
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    assert ImageFolder(tmp_path)[0][0].shape == (40, 20, 3)


def test_labels_csv_missing_file_is_skipped_and_bad_csv_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "a" / "1.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "labels.csv").write_text(
        "path,category,color,split\na/1.png,mug,red,train\na/2.png,mug,blue,train\n"
    )
    ds = ImageFolder(tmp_path)
    assert len(ds) == 1 and len(ds.skipped) == 1
    assert "no such file" in ds.skipped.skipped[0][1]
    assert ds.classes == {"category": ["mug"], "color": ["red"]}
    (tmp_path / "labels.csv").write_text("path,category\n../outside.png,mug\n")
    with pytest.raises(InputError, match=r"labels.csv:2: path '../outside.png' must be relative"):
        ImageFolder(tmp_path)
    (tmp_path / "labels.csv").write_text("file,category\na/1.png,mug\n")
    with pytest.raises(InputError, match="no 'path' column"):
        ImageFolder(tmp_path)


def test_nothing_readable_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no images found"):
        ImageFolder(tmp_path)
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(InputError, match=r"no readable images \(1 skipped\)"):
        ImageFolder(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(InputError, match="needs a labels.csv"):
        ImageFolder(tmp_path, split="train")


def test_cli_info_reports_counts(tmp_path: Path) -> None:
    _user_folder(tmp_path)
    r = CliRunner().invoke(main, ["data", "info", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {
        "root": str(tmp_path),
        "images": 5,
        "skipped": 2,
        "classes": {"category": ["mugs", "shoes"]},
    }
    r = CliRunner().invoke(main, ["data", "info", str(tmp_path / "nope")])
    assert r.exit_code == 2 and r.output.strip().splitlines() == [
        f"error: {tmp_path / 'nope'}: no such folder"
    ]


def test_fit_square_is_the_one_crop_rule_of_ptx_image(tmp_path: Path) -> None:
    from ptx.image import fit

    rgb = np.random.default_rng(0).integers(0, 256, (30, 52, 3), dtype=np.uint8)
    assert np.array_equal(fit_square(rgb, 16), fit(rgb, 16, 16, "crop"))
    write_image(tmp_path / "a" / "x.png", rgb)
    assert np.array_equal(ImageFolder(tmp_path, size=16)[0][0], fit(rgb, 16, 16, "crop"))
    with pytest.raises(InputError, match="at least 1 px"):
        fit_square(rgb, 0)


def test_class_keys_are_the_one_label_key_tuple(tmp_path: Path) -> None:
    from ptx.training.data.folders import CLASS_KEYS
    from ptx.training.gan import data as gan_data
    from ptx.training.gan import model as gan_model

    assert CLASS_KEYS == ("category", "color")
    assert not hasattr(gan_data, "KEYS") and not hasattr(gan_model, "LABEL_KEYS")
    spec = gan_model.make_spec(gan_model.TEST_CONFIG)
    assert tuple(t.name for t in spec.inputs[1:]) == CLASS_KEYS
    assert tuple(spec.labels) == CLASS_KEYS

"""The synthetic catalogue: determinism, balance, true colours, layout, atomic writes, CLI."""

from __future__ import annotations

import colorsys
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.errors import InputError
from ptx.io import read_image
from ptx.training.data import catalogue as cat
from ptx.training.data.catalogue import (
    CATEGORIES,
    COLORS,
    PATTERNS,
    render_product,
    render_with_mask,
    synthesize,
    write_catalogue,
)


def test_same_seed_and_index_give_identical_bytes_independent_of_n() -> None:
    a, la = render_product(3, 5, 48)
    b, lb = render_product(3, 5, 48)
    assert a.dtype == np.uint8 and a.shape == (48, 48, 3)
    assert a.tobytes() == b.tobytes() and la == lb
    short = [img for img, _ in synthesize(6, 48, seed=3)]
    long = [img for img, _ in synthesize(9, 48, seed=3)]
    assert all(x.tobytes() == y.tobytes() for x, y in zip(short, long[:6], strict=True))
    assert short[5].tobytes() == a.tobytes()
    assert render_product(4, 5, 48)[0].tobytes() != a.tobytes()  # another seed
    assert render_product(3, 6, 48)[0].tobytes() != a.tobytes()  # another index


def test_schedule_covers_every_category_colour_pair_once_per_cycle() -> None:
    cycle = len(CATEGORIES) * len(COLORS)
    pairs = [cat.schedule(i) for i in range(cycle)]
    assert len(set(pairs)) == cycle
    assert {c for c, _ in pairs[: len(CATEGORIES)]} == set(CATEGORIES)
    assert cat.schedule(cycle + 3) == cat.schedule(3)
    assert len(CATEGORIES) >= 6 and len(COLORS) >= 8 and len(PATTERNS) >= 3


def test_every_category_and_colour_renders_a_visible_product() -> None:
    seen = {"category": set(), "color": set(), "pattern": set(), "background": set()}
    for i, (img, labels) in enumerate(synthesize(len(CATEGORIES) * len(COLORS), 32, seed=1)):
        for key in seen:
            seen[key].add(labels[key])
        assert img.shape == (32, 32, 3), i
        _, _, mask = render_with_mask(1, i, 32)
        assert 0.03 < mask.mean() < 0.8, (labels, mask.mean())  # a product, not a blank frame
    assert seen["category"] == set(CATEGORIES)
    assert seen["color"] == set(COLORS)
    assert len(seen["pattern"]) >= 3 and len(seen["background"]) >= 3


def _hsv(pixels: np.ndarray) -> np.ndarray:
    return np.array([colorsys.rgb_to_hsv(*(p / 255.0)) for p in pixels])


@pytest.mark.parametrize("color", list(COLORS))
def test_named_colour_is_the_colour_of_the_product(color: str) -> None:
    hsv = []
    for k, category in enumerate(CATEGORIES):
        img, labels, mask = render_with_mask(11, k, 64, category=category, color=color)
        assert labels["color"] == color and labels["category"] == category
        hsv.append(_hsv(img[mask > 0.99].astype(np.float64)))
    hsv = np.concatenate(hsv)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    if color == "black":
        assert np.median(v) < 0.3
    elif color == "white":
        assert np.median(s) < 0.12 and np.median(v) > 0.6
    else:
        want = colorsys.rgb_to_hsv(*(np.array(COLORS[color]) / 255.0))[0]
        sat = s > 0.2
        assert sat.mean() > 0.6, f"{color}: only {sat.mean():.0%} of product pixels are chromatic"
        ang = 2 * np.pi * h[sat]
        mean = np.angle(np.mean(np.exp(1j * ang))) / (2 * np.pi) % 1.0
        off = min(abs(mean - want), 1 - abs(mean - want)) * 360
        assert off < 12, f"{color}: mean hue off by {off:.1f} degrees"


def test_white_product_on_white_background_stays_visible() -> None:
    for i in range(200):
        img, labels, mask = render_with_mask(0, i, 64, category="bottle", color="white")
        if labels["background"] == "white":
            break
    else:
        pytest.fail("no white background in 200 draws")
    product = img[mask > 0.99].astype(np.float64)
    corner = img[:4, :4].astype(np.float64)
    assert np.all(corner == 255)
    assert 255 - product.mean() > 12  # shading, not white-on-white
    edge = (mask > 0.2) & (mask < 0.9)
    assert img[edge].mean() < 240  # the silhouette reads


def test_refuses_nonsense_with_input_error(tmp_path: Path) -> None:
    for bad in (dict(n=0, size=32), dict(n=1, size=8), dict(n=1, size=5000)):
        with pytest.raises(InputError):
            write_catalogue(tmp_path / "x", progress=False, **bad)
    with pytest.raises(InputError, match="seed"):
        write_catalogue(tmp_path / "x", 1, 32, seed=-1, progress=False)
    with pytest.raises(InputError, match="unknown category"):
        render_product(0, 0, 32, category="sofa")
    with pytest.raises(InputError, match="unknown colour"):
        render_product(0, 0, 32, color="teal")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        write_catalogue(tmp_path / "file", 1, 32, progress=False)


def _rows(root: Path) -> list[dict[str, str]]:
    with open(root / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_write_catalogue_layout_labels_and_splits(tmp_path: Path) -> None:
    out = tmp_path / "cat"
    s = write_catalogue(out, 12, 32, seed=2, progress=False, workers=1)
    rows = _rows(out)
    assert s.images == len(rows) == 12
    assert list(rows[0]) == ["path", "category", "color", "pattern", "background", "split"]
    for i, row in enumerate(rows):
        img, labels = render_product(2, i, 32)
        assert (
            row["path"]
            == f"{labels['category']}/{labels['category']}_{labels['color']}_{i:05d}.png"
        )
        assert {k: row[k] for k in labels} == labels
        assert row["split"] == cat.split_of(2, i)
        assert read_image(out / row["path"]).tobytes() == img.tobytes()  # lossless PNG
    assert sum(s.splits.values()) == 12
    assert s.categories == sorted(CATEGORIES) and len(s.colors) >= 2
    assert not list(out.rglob("*.part"))
    assert json.loads(json.dumps(s.to_dict()))["images"] == 12


def test_split_is_about_80_10_10_and_stable() -> None:
    splits = [cat.split_of(0, i) for i in range(4000)]
    for name, share in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(splits.count(name) / len(splits) - share) < 0.025
    assert splits[:50] == [cat.split_of(0, i) for i in range(50)]


def test_worker_processes_write_the_same_bytes(tmp_path: Path) -> None:
    write_catalogue(tmp_path / "one", 9, 32, seed=5, progress=False, workers=1)
    write_catalogue(tmp_path / "two", 9, 32, seed=5, progress=False, workers=2)
    for row in _rows(tmp_path / "one"):
        a = (tmp_path / "one" / row["path"]).read_bytes()
        assert a == (tmp_path / "two" / row["path"]).read_bytes()
    assert _rows(tmp_path / "one") == _rows(tmp_path / "two")


def test_interrupted_run_leaves_no_half_file_and_no_labels(tmp_path, monkeypatch) -> None:
    out = tmp_path / "cat"
    write_catalogue(out, 3, 32, progress=False, workers=1)  # an old, finished catalogue
    stale = out / "mug" / ".mug_red_00001.png.x1y2.part"
    stale.write_bytes(b"left by a killed run")
    real, calls = cat.atomic_write_bytes, []

    def interrupted(path, data):
        calls.append(path)
        if len(calls) == 4:  # Ctrl-C arrives halfway through writing the 4th PNG
            with cat_io.atomic_path(path) as tmp:
                tmp.write_bytes(data[: len(data) // 2])
                raise KeyboardInterrupt
        real(path, data)

    from ptx import io as cat_io

    monkeypatch.setattr(cat, "atomic_write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_catalogue(out, 8, 32, seed=1, progress=False, workers=1)
    assert not (out / "labels.csv").exists()  # the folder does not claim to be complete
    assert not calls[3].exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    for png in out.rglob("*.png"):
        read_image(png)  # every PNG present is whole


def test_cli_synth_writes_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "c"
    r = CliRunner().invoke(
        main,
        [
            "data",
            "synth",
            "--out",
            str(out),
            "--n",
            "7",
            "--size",
            "32",
            "--workers",
            "1",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.output.strip().splitlines()[-1])
    assert report["images"] == 7 and len(report["categories"]) == 7
    assert len(_rows(out)) == 7 and len(list(out.rglob("*.png"))) == 7
    r = CliRunner().invoke(
        main,
        [
            "data",
            "synth",
            "--out",
            str(tmp_path / "d"),
            "--n",
            "2",
            "--size",
            "32",
            "--workers",
            "1",
        ],
    )
    assert r.exit_code == 0 and "wrote 2 images" in r.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "5", "--size", "8"], "--size must be between"),
        (["--n", "0", "--size", "32"], "--n must be at least 1"),
    ],
)
def test_cli_synth_bad_flags_one_line_nonzero(tmp_path: Path, args, message) -> None:
    r = CliRunner().invoke(main, ["data", "synth", "--out", str(tmp_path / "o"), *args])
    assert r.exit_code != 0
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not (tmp_path / "o" / "labels.csv").exists()


def test_cli_synth_non_integer_flag_is_a_usage_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        main, ["data", "synth", "--out", str(tmp_path), "--n", "many", "--size", "32"]
    )
    assert r.exit_code == 2 and "Invalid value for '--n'" in r.output

"""`ptx data scenes`: busy-backdrop product shots written as extra clean enhancer photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.io import read_image
from ptx.training.data.files import split_files
from ptx.training.data.matte import BG_KINDS, render_matte_kind
from ptx.training.data.scenes import write_scenes
from ptx.training.enhance.data import package_textures


def test_files_are_the_renders_of_seed_and_index(tmp_path: Path) -> None:
    kinds = write_scenes(tmp_path / "s", 4, 32, seed=5)
    files = sorted((tmp_path / "s").glob("*.png"))
    assert [f.name for f in files] == [f"scene_{i:05d}.png" for i in range(4)]
    assert sum(kinds.values()) == 4 and set(kinds) <= set(BG_KINDS)
    for i, f in enumerate(files):
        rgb, _, _ = render_matte_kind(5, i, 32, package_textures())
        np.testing.assert_array_equal(read_image(f), rgb)  # PNG: lossless


def test_scenes_beside_a_catalogue_train_and_never_hold_out(tmp_path: Path) -> None:
    from ptx.training.data.catalogue import write_catalogue

    write_catalogue(tmp_path, 8, 32, seed=1, progress=False, workers=1)
    write_scenes(tmp_path / "scenes", 3, 32, seed=2)
    train, val = split_files(tmp_path, 0.05, 0)
    scenes = {p.name for p in (tmp_path / "scenes").glob("*.png")}
    assert scenes <= {p.name for p in train} and not scenes & {p.name for p in val}


def test_cli_writes_and_reports(tmp_path: Path) -> None:
    args = ["data", "scenes", "--out", str(tmp_path / "o"), "--n", "3", "--size", "32"]
    r = CliRunner().invoke(main, [*args, "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output.strip().splitlines()[-1])
    assert report["images"] == 3 and sum(report["kinds"].values()) == 3
    assert len(list((tmp_path / "o").glob("*.png"))) == 3
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "wrote 3 images (32px; backdrops:" in r.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "2", "--size", "8"], "size must be between"),
        (["--n", "0", "--size", "32"], "--n must be at least 1"),
        (["--n", "2", "--size", "32", "--seed", "-1"], "--seed must be >= 0"),
    ],
)
def test_bad_flags_are_one_line_and_write_nothing(tmp_path: Path, args, message) -> None:
    r = CliRunner().invoke(main, ["data", "scenes", "--out", str(tmp_path / "o"), *args])
    assert r.exit_code != 0
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not list(tmp_path.rglob("*.png"))


def test_out_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "f.png"
    f.write_bytes(b"x")
    r = CliRunner().invoke(main, ["data", "scenes", "--out", str(f), "--n", "1", "--size", "32"])
    assert r.exit_code != 0 and "exists and is not a folder" in r.output
    assert f.read_bytes() == b"x"

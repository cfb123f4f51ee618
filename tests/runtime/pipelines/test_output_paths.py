"""Folder runs never overwrite an input, and colliding stems get distinct outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.io import write_image
from ptx.runtime.pipelines import batching
from ptx.runtime.pipelines.batching import OUTPUT_MARK, mark_output, plan_items
from ptx.runtime.pipelines.enhance import enhance_path
from ptx.runtime.pipelines.vae import run_vae


def _img(path: Path, value: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.full((8, 8, 3), value, np.uint8))
    return path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_out_inside_input_holding_originals_is_refused(tmp_path) -> None:
    p = tmp_path / "p"
    _img(p / "a.jpg")
    _img(p / "sub" / "a.jpg", 200)
    before = _snapshot(tmp_path)
    with pytest.raises(InputError, match="inside the input folder") as err:
        enhance_path("no-model.onnx", p, p / "sub", progress=False)
    assert "\n" not in str(err.value)
    assert _snapshot(tmp_path) == before


def test_out_inside_input_from_an_earlier_run_may_be_reused(tmp_path) -> None:
    p = tmp_path / "p"
    _img(p / "a.jpg")
    _img(p / "sub" / "a.jpg", 200)
    mark_output(p, p / "sub")  # what an earlier folder run leaves behind
    assert (p / "sub" / OUTPUT_MARK).is_file()
    items = plan_items(p, p / "sub")
    assert [it.source.name for it in items] == ["a.jpg"]


def test_out_is_the_input_folder_is_refused(tmp_path) -> None:
    d = tmp_path / "d"
    _img(d / "a.jpg")
    with pytest.raises(InputError, match="input folder"):
        plan_items(d, d)


def test_vae_reconstruct_into_its_own_folder_is_refused(tmp_path) -> None:
    d = tmp_path / "d"
    _img(d / "a.png")
    before = _snapshot(tmp_path)
    with pytest.raises(InputError, match="overwrite"):
        run_vae("no-decoder.onnx", d, encoder="no-encoder.onnx", reconstruct_dir=d)
    assert _snapshot(tmp_path) == before


def test_vae_strip_over_an_input_is_refused(tmp_path) -> None:
    a, b = _img(tmp_path / "a.png"), _img(tmp_path / "b.png")
    with pytest.raises(InputError, match="overwrite"):
        run_vae("x.onnx", tmp_path / "o", encoder="y.onnx", interpolate_between=(a, b), strip=a)


def test_colliding_stems_get_distinct_outputs(tmp_path) -> None:
    d = tmp_path / "d"
    for name in ("a.jpg", "a.png", "a.gif", "b.webp"):
        _img(d / name)
    out = tmp_path / "o"
    same = {it.source.name: it.dest.name for it in plan_items(d, out)}
    assert same["a.gif"] != same["a.png"] and len(set(same.values())) == 4
    assert same["a.png"] == "a.png" and same["a.jpg"] == "a.jpg"
    png = {it.source.name: it.dest.name for it in plan_items(d, out, suffix=".png")}
    assert png["a.png"] == "a.png" and len(set(png.values())) == 4
    assert png["a.jpg"] == "a.jpg.png"


def test_disambiguated_names_never_collide(tmp_path) -> None:
    d = tmp_path / "d"
    for name in ("a.jpg", "a.jpg.png", "a.webp"):
        _img(d / name)
    dests = [it.dest for it in plan_items(d, tmp_path / "o", suffix=".png")]
    assert len({str(x).casefold() for x in dests}) == 3


def test_output_into_parent_never_hits_an_input(tmp_path) -> None:
    src = tmp_path / "p" / "sub"
    _img(src / "a.png")
    _img(src / "sub" / "a.png")
    with pytest.raises(InputError, match="would overwrite the input"):
        plan_items(src, tmp_path / "p")  # p/sub/sub/a.png would be written to p/sub/a.png


def test_a_failed_write_is_one_skipped_file_not_a_dead_run(models, tmp_path, monkeypatch):
    src = tmp_path / "in"
    for name in ("a.png", "b.png", "c.png"):
        _img(src / name)
    real = batching.atomic_write_bytes

    def disk_full_for_b(path, data):
        if Path(path).name == "b.png":
            raise InputError(f"{path}: write failed (No space left on device); nothing was written")
        real(path, data)

    monkeypatch.setattr(batching, "atomic_write_bytes", disk_full_for_b)
    summary = enhance_path(models["affine"], src, tmp_path / "out", progress=False)
    assert summary.images == 2 and summary.failed == 1
    assert "No space left" in summary.skipped[0][1]
    assert not (tmp_path / "out" / "b.png").exists()

"""The batch scaling study: its arithmetic, and one tiny end-to-end run on a local Ray."""

from __future__ import annotations

import json

import pytest

from ptx.benchmarks.studies.batch_cpu import available
from ptx.benchmarks.studies.batch_scaling import (
    SIDES,
    cluster_size,
    main,
    markdown,
    photos,
    rates_of,
    steady_rate,
    summarise,
)


def test_cluster_size_rounds_up_and_counts_the_lost_efficiency():
    assert cluster_size(100.0, 1.0) == 100
    assert cluster_size(100.0, 0.5) == 200
    assert cluster_size(3.0, 0.9, target=10.0) == 4
    assert cluster_size(100.0, 1.4) == 100  # super-linear is not planned on
    with pytest.raises(ValueError):
        cluster_size(0.0, 1.0)


def test_summary_ratios_and_targets():
    rates = {
        "run": [10.0, 12.0, 11.0],
        "run_1t": [6.0],
        "run_matched": [12.5],
        "batch_x1": [10.0],
        "batch_x2": [16.0],
    }
    s = summarise(rates, images=50)
    assert s["images_per_s"]["run"] == 11.0
    assert s["batch_x1_over_run"] == pytest.approx(10 / 11)
    assert s["batch_x1_over_run_matched"] == pytest.approx(0.8)
    assert s["batch_x2_over_x1"] == pytest.approx(1.6)
    assert s["meets"] == {"x1_vs_run": True, "x1_vs_run_matched": False, "x2_vs_x1": True}
    assert s["cluster"]["workers"] == 1250  # 10,000 / (10 * 0.8)
    assert s["cluster"]["nodes_of_32_cores"] == 40


def test_tiny_run_end_to_end(tmp_path, dynamic_onnx):
    pytest.importorskip("ray")
    from click.testing import CliRunner

    res = CliRunner().invoke(
        main,
        ["--onnx", str(dynamic_onnx), "--size", "16", "--images", "4", "--out", str(tmp_path),
         "--json", "--format", "png"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "batch_scaling.json").read_text())
    assert sorted(result["seconds"]) == ["1", "4"]  # a quarter of the images, then all
    for by_side in result["seconds"].values():
        assert set(by_side) == set(SIDES) and all(len(v) == 1 for v in by_side.values())
    if result["marginal"] is not None:  # None when noise beat a 16x16 model's cost
        assert set(result["marginal"]["images_per_s"]) == set(SIDES)
    assert result["format"] == "png"
    if result["steady"] is not None:
        assert set(result["steady"]["images_per_s"]) == set(SIDES)
    assert "on paper" in markdown(result) and "Steady:" in markdown(result)
    if available():
        cpu = result["cpu"]
        # CPU time counts in 10 ms clock ticks: four 16x16 images through `ptx run` can take
        # none; a batch side starts Ray actors (imports, an engine), never none.
        assert set(cpu) == set(SIDES) and all(c["whole_ms_per_image"] >= 0 for c in cpu.values())
        assert all(cpu[side]["whole_ms_per_image"] > 0 for side in ("batch_x1", "batch_x2"))
        assert cpu["batch_x1"]["by_kind_ms_per_image"]["batch actors"] > 0
        assert cpu["batch_x1"]["model_thread_ms_per_image"] > 0
        assert cpu["run"]["model_thread_ms_per_image"] == 0  # no actors
        assert "CPU per image" in markdown(result)


def test_rates_of_leaves_out_the_fixed_cost():
    times = {2: {side: [3.0] for side in SIDES}, 10: {side: [7.0] for side in SIDES}}
    whole, marginal = rates_of(times)
    assert whole["run"] == [10 / 7.0]
    assert marginal["batch_x2"] == [2.0]  # 8 more images in 4 more seconds
    times[10]["run"] = [2.0]
    assert rates_of(times)[1] is None


def test_photos_are_png_files_of_the_size(tmp_path):
    from ptx.io import read_image

    folder = photos(tmp_path / "p", 2, 24)
    imgs = sorted(folder.glob("*.png"))
    assert len(imgs) == 2 and read_image(imgs[0]).shape == (24, 24, 3)


def test_photos_as_jpeg_and_unknown_formats_refused(tmp_path):
    from ptx.io import read_image

    folder = photos(tmp_path / "j", 2, 24, fmt="jpg")
    imgs = sorted(folder.glob("*.jpg"))
    assert len(imgs) == 2 and read_image(imgs[1]).shape == (24, 24, 3)
    with pytest.raises(ValueError, match="format"):
        photos(tmp_path / "g", 1, 24, fmt="gif")


def test_steady_rate_reads_the_outputs_mtimes(tmp_path):
    import os

    for i in range(9):  # one output every 0.5 s, in a sub-folder too
        p = tmp_path / ("sub" if i % 2 else "") / f"o{i}.png"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
        os.utime(p, ns=(0, 10**9 * 100 + i * 5 * 10**8))
    (tmp_path / "manifest.jsonl").write_text("{}")  # not an output
    # From the 3rd output (a quarter of 9 skipped: 2) to the 9th: 6 images in 3 s.
    assert steady_rate(tmp_path) == pytest.approx(2.0)
    assert steady_rate(tmp_path, skip=0.0) == pytest.approx(2.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert steady_rate(empty) is None

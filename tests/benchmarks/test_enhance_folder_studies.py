"""The issue-14 runtime studies on tiny settings: folder vs model-only, cost per MP, seams."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ptx import runtime
from ptx.benchmarks.studies import enhance_cost, enhance_folder
from ptx.errors import InputError
from ptx.io import read_image
from ptx.runtime.pipelines.enhance import SHIPPED_MODEL


def test_folder_study_reports_both_throughputs_and_the_ratio(tmp_path):
    doc = enhance_folder.run(SHIPPED_MODEL, ("onnxruntime",), n=3, size=64, rounds=1, out=tmp_path)
    (r,) = doc["results"]
    ips = r["images_per_s"]
    assert set(ips) == {"bench", "same_engine", "folder"} and min(ips.values()) > 0
    assert r["images"] == 3 and r["size"] == [64, 64] and r["resolved"] == "onnxruntime"
    assert r["ratio_same_engine"] == pytest.approx(ips["folder"] / ips["same_engine"])
    assert r["ratio_bench"] == pytest.approx(ips["folder"] / ips["bench"])
    assert r["meets_target"] == (min(r["ratio_bench"], r["ratio_same_engine"]) >= 0.85)
    files = {p.name for p in tmp_path.iterdir()}
    assert {f"enhance_folder-{doc['host']}.json", f"enhance_folder-{doc['host']}.md"} <= files
    md = (tmp_path / f"enhance_folder-{doc['host']}.md").read_text()
    assert f"{ips['folder']:.2f}" in md and f"{r['ratio_same_engine']:.3f}" in md
    saved = json.loads((tmp_path / f"enhance_folder-{doc['host']}.json").read_text())
    assert saved["results"][0]["seconds"]["folder"] == r["seconds"]["folder"]


def test_folder_study_refuses_a_missing_model(tmp_path):
    with pytest.raises(InputError, match="no such model"):
        enhance_folder.run(tmp_path / "nope.onnx", out=tmp_path)


def test_sizes_are_four_by_three_at_the_megapixels_asked():
    for mp in enhance_cost.MEGAPIXELS:
        h, w = enhance_cost.size_for(mp)
        assert h % 8 == 0 and w % 8 == 0 and abs(w / h - 4 / 3) < 0.02
        assert abs(h * w / 1e6 - mp) / mp < 0.03


def test_seams_compare_tiled_and_whole_and_write_the_crop(tmp_path):
    engine = runtime.load(SHIPPED_MODEL, backend="onnxruntime")
    s = enhance_cost.seams(engine, tmp_path, "host", size=(192, 256), budget=25_000)
    assert s["tiles"][0] * s["tiles"][1] > 1
    assert 0 <= s["mean_abs"] <= s["max_abs"] and s["p999_abs"] <= s["max_abs"]
    sheet = read_image(tmp_path / s["crop_png"])
    assert sheet.shape[0] > 0 and sheet.shape[1] % 3 == 0  # whole | tiled | difference


def test_large_photo_runs_in_a_child_and_reports_peak_memory(tmp_path):
    runs = enhance_cost.large_photo(
        SHIPPED_MODEL, "onnxruntime", tmp_path, untiled=True, size=(200, 240), budget="30000"
    )
    tiled, whole = runs
    assert tiled["images"] == 1 and tiled["failed"] == 0 and whole["images"] == 1
    assert tiled["peak_rss_mb"] > 10 and np.isfinite(whole["peak_rss_mb"])
    assert tiled["run"] == "tiled (30000 pixels)" and whole["run"] == "whole"


def test_cost_per_mp_rows_are_per_size_and_consistent(monkeypatch):
    monkeypatch.setattr(enhance_cost, "MEGAPIXELS", (0.01, 0.04))
    rows = enhance_cost.cost_per_mp(
        lambda: runtime.load(SHIPPED_MODEL, backend="onnxruntime"), rounds=1
    )
    assert [r["size"] for r in rows] == [list(enhance_cost.size_for(m)) for m in (0.01, 0.04)]
    for r in rows:
        assert r["model_ms"] > 0 and r["pipeline_ms"] > 0
        assert r["model_ms_per_mp"] == pytest.approx(r["model_ms"] / r["megapixels"])
    assert rows[0]["growth_vs_smallest"] == 1.0

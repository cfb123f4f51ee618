"""The serve precision study on a tiny model: two real `ptx serve` subprocesses, one short round."""

from __future__ import annotations

import json

import pytest

from ptx.benchmarks.serving import serve_precision

pytest.importorskip("uvicorn")
pytest.importorskip("openvino")  # the ladder has rungs to choose from


def test_both_servers_answer_inside_the_gate_and_the_page_says_so(
    dynamic_onnx, tmp_path, monkeypatch
):
    monkeypatch.delenv("PTX_BACKEND", raising=False)  # the servers run auto's own trial
    res = serve_precision.measure(
        dynamic_onnx, size=16, concurrency=(1, 2), seconds=0.6, rounds=1, warmup_s=0.2
    )
    assert set(res["servers"]) == {"auto", "fp32"}
    for served in res["servers"].values():
        assert served["backend"] in ("onnxruntime", "openvino")
        assert served["precision"] in ("fp32", "bf16", "fp16", "int8")
    assert res["servers"]["fp32"]["precision"] == "fp32"
    # both trials ran at the request size, and the metadata said which precision was loaded
    assert res["trial_shapes"] and all(v[-2:] == [16, 16] for v in res["trial_shapes"].values())
    assert serve_precision.trial_args({"image": (1, 3, 16, 16)}) == [
        "--trial-shape", "image:1x3x16x16"
    ]  # fmt: skip
    assert [(c["server"], c["concurrency"]) for c in res["cells"]] == [
        ("auto", 1), ("fp32", 1), ("auto", 2), ("fp32", 2)
    ]  # fmt: skip
    for cell in res["cells"]:  # every server answered, every answer within the parity gate
        assert cell["answered"] > 0 and cell["errors"] == 0 and cell["wrong_results"] == 0
        assert 0 < cell["p50_ms"] <= cell["p95_ms"] and cell["req_per_s"] > 0
    assert serve_precision.failures(res) is None
    by = {(c["server"], c["concurrency"]): c for c in res["cells"]}
    assert res["ratios"]["2"]["throughput"] == pytest.approx(
        by["auto", 2]["req_per_s"] / by["fp32", 2]["req_per_s"]
    )
    json_path, md_path = serve_precision.write(res, tmp_path, "sp", "cmd")
    assert json.loads(json_path.read_text())["serve_precision"]["size"] == 16
    page = md_path.read_text()
    assert "| --precision auto |" in page and "| --precision fp32 |" in page
    assert "concurrency 2: auto p50" in page and "choice: backend" in page
    assert "auto trial at " in page and "x16x16 (`--trial-shape`)" in page


def test_a_wrong_answer_is_a_failure_line():
    cell = {"server": "auto", "concurrency": 16, "errors": 0, "wrong_results": 3,
            "first_error": None}  # fmt: skip
    line = serve_precision.failures({"cells": [cell]})
    assert line == (
        "--precision auto at concurrency 16: 0 errors, 3 answers outside the gate "
        "(first error: None)"
    )

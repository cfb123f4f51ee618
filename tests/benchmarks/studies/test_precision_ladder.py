"""benchmarks/studies/precision_ladder.py on a tiny model: a real run, its table and JSON."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("openvino")
pytest.importorskip("torch")

from ptx.benchmarks.studies import precision_ladder  # noqa: E402
from ptx.runtime.backends.auto import precision as ladder  # noqa: E402


def test_tiny_run_writes_table_and_json(tmp_path, monkeypatch):
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.setattr(precision_ladder, "INT8_SAMPLES", 4)  # a small calibration set
    md, cases = precision_ladder.run(
        size=32, batches=(2,), rounds=2, families=("enhance",), threads=1, out=tmp_path, tiny=True
    )
    text = md.read_text()
    assert "| enhance | 2 |" in text and "matrix units:" in text and "gate:" in text
    doc = json.loads(md.with_suffix(".json").read_text())
    assert [c["batch"] for c in doc["cases"]] == [2]
    (case,) = cases
    names = precision_ladder.contenders_here()
    assert set(case.p25_ms) == {*names, "pick"} and set(case.parity) == {*names[1:], "pick"}
    assert all(0 < case.p25_ms[n] <= case.median_ms[n] for n in case.p25_ms)
    assert case.pick.split(":")[0] in ("onnxruntime", "openvino") and case.speedup > 0
    assert all(f.startswith(("PSNR", "rel L2")) for f in case.parity.values())
    if "openvino:int8" in names:  # quantized by NNCF first: its summary line is in the notes
        (note,) = [n for n in case.notes if "INT8" in n]
        assert "enhance.int8.onnx: INT8 (NNCF" in note and "enhance.int8.onnx: INT8" in text


def test_masked_cpu_has_fp32_contenders_only(monkeypatch):
    old = {"model": "old CPU", "matrix": [], "vector": ["avx2"]}
    monkeypatch.setattr(ladder, "cpu_capabilities", lambda: old)
    assert precision_ladder.contenders_here() == ["onnxruntime", "openvino"]

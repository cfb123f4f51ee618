"""benchmarks/studies/precision_ladder.py on a tiny model: a real run, its table and JSON."""

from __future__ import annotations

import json
import os

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


def test_masked_auto_runs_beside_the_plain_engine_and_a_given_onnx_is_used(
    tmp_path, monkeypatch, dynamic_onnx
):
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.delenv("PTX_PRECISIONS", raising=False)
    old = {"model": "old CPU", "matrix": [], "vector": ["avx2"]}  # fp32 rungs only: no NNCF
    monkeypatch.setattr(ladder, "cpu_capabilities", lambda: old)
    md, (case,) = precision_ladder.run(
        size=16, batches=(2,), rounds=2, families=("enhance",), threads=1, out=tmp_path,
        masked=True, models={"enhance": dynamic_onnx},
    )  # fmt: skip
    assert case.masked in ("onnxruntime", "openvino")
    assert set(case.p25_ms) == {"onnxruntime", "openvino", "pick", "masked"}
    assert case.parity["masked"] in ("PSNR inf dB", "rel L2 0.0e+00")  # the same fp32 maths
    text = md.read_text()
    assert f"PTX_PRECISIONS=fp32: auto took {case.masked} fp32" in text
    assert f"except `enhance`: {dynamic_onnx}" in text
    assert "PTX_PRECISIONS" not in os.environ  # the study put the mask back
    assert not dynamic_onnx.with_name("dyn.onnx.ptx-backend.json").exists()  # measured a copy


def test_identical_pixels_at_random_init_are_called_out():
    def case(family, pick, parity):
        ms = {"onnxruntime": 2.0, "openvino": 3.0, "pick": 1.0}
        return precision_ladder.Case(family, 1, 16, 2, ms, ms, {"pick": parity}, pick, "line")

    meta = {"host": "h", "cpu": "c", "matrix": [], "vector": [], "openvino": "v",
            "openvino_caps": [], "unsupported": [], "contenders": ["onnxruntime", "openvino"],
            "threads": 1, "size": 16, "rounds": 2, "command": "cmd", "tiny": False,
            "models": {"enhance": "trained.onnx"}}  # fmt: skip
    cases = [
        case("style", "openvino:int8", "PSNR inf dB"),  # random init: says little
        case("enhance", "openvino:bf16", "PSNR inf dB"),  # a trained ONNX: it counts
        case("gan", "onnxruntime", "PSNR inf dB"),  # fp32 itself: nothing to say
    ]
    text = precision_ladder.markdown(cases, meta)
    (line,) = [x for x in text.splitlines() if "equal fp32's at random init" in x]
    assert line.startswith("- `style` b1:") and "enhance" not in line and "gan" not in line
    assert "| style | 1 | 2.0 (onnxruntime) | openvino:int8 | 1.0 | 2.00x | PSNR inf dB |" in text

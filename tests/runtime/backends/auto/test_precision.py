"""The CPU precision ladder: masked units keep fp32, the gate, the fingerprinted cache."""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ptx.errors import InputError
from ptx.runtime import load
from ptx.runtime.backends.auto import cache as choice_cache
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.backends.auto import select
from ptx.spec import ImageConvention, ModelSpec, TensorSpec, embed_in_onnx

pytest.importorskip("openvino")
OLD_CPU = {"model": "old CPU", "matrix": [], "vector": ["avx2", "fma"]}
BF16_CPU = {"model": "bf16 CPU", "matrix": [], "vector": ["avx2", "avx512f", "avx512_bf16"]}


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)  # the fewest timed rounds


def cpu(monkeypatch, caps: dict, ov_caps: tuple[str, ...] = ("FP32", "BF16", "INT8")) -> None:
    """Make the ladder see this processor and this OpenVINO CPU device."""
    monkeypatch.setattr(ladder, "cpu_capabilities", lambda: caps)
    monkeypatch.setattr(ladder, "openvino_capabilities", lambda: ov_caps)


def fake_timings(monkeypatch, ms: dict[str, float]) -> list:
    """Every trial sees these per-call times (ms); the runners still run once."""
    calls = []

    def timed(runners, **_):
        calls.append(sorted(runners))
        for run in runners.values():
            run()
        return {name: [ms[name] / 1e3] * 5 for name in runners}

    monkeypatch.setattr(select, "time_interleaved", timed)
    return calls


def amplifier_model(path, spec: bool = True):
    """y = x @ (W + 1e-3) - x @ W: exact in f32 (1e-3 * row sums), lost to bf16 rounding."""
    w = np.full((16, 16), 1.0, np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["a"]),
            helper.make_node("MatMul", ["x", "w0"], ["b"]),
            helper.make_node("Sub", ["a", "b"], ["y"]),
        ],
        "amplifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 16])],
        [numpy_helper.from_array(w + 1e-3, "w1"), numpy_helper.from_array(w, "w0")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if spec:  # a ptx model: the ladder knows what its output is and tries reduced precisions
        io = {"inputs": [TensorSpec("x", "float32", [4, 16])]}
        embed_in_onnx(
            model, ModelSpec(task="custom", **io, outputs=[TensorSpec("y", "float32", [4, 16])])
        )
    onnx.save(model, str(path))
    return path


def test_a_foreign_model_keeps_fp32_under_auto(tmp_path, monkeypatch):
    """No ModelSpec: how much its outputs may move is unknown, so no reduced rung is timed."""
    if ladder.unsupported("bf16"):
        pytest.skip(f"bf16 not runnable here: {ladder.unsupported('bf16')}")
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 12.0, "openvino:bf16": 1.0})
    engine = load(amplifier_model(tmp_path / "foreign.onnx", spec=False), threads=1)
    assert all(":" not in name for name in calls[0])
    assert engine.choice.precision == "fp32"
    assert "no ModelSpec" in engine.choice.precision_note


def test_masked_units_keep_fp32_and_say_why(models, monkeypatch):
    cpu(monkeypatch, OLD_CPU)
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 20.0})
    engine = load(models["swap"], threads=1)
    assert calls == [["onnxruntime", "openvino"]]  # no reduced rung was even loaded
    choice = engine.choice
    assert (choice.backend, choice.precision) == ("onnxruntime", "fp32")
    assert "fp32 kept: no bf16: this CPU (old CPU) has no avx512_bf16 or amx_bf16" in (
        choice.precision_note
    )
    assert "no fp16" in choice.precision_note and "precision fp32" in choice.line()
    assert type(engine).__name__ == "OnnxRuntimeEngine"  # nothing added to the hot path


def test_ladder_picks_a_faster_bf16_that_passes_and_caches_it(models, monkeypatch):
    cpu(monkeypatch, BF16_CPU)
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 5.0})
    engine = load(models["swap"], threads=1)
    assert calls == [["onnxruntime", "openvino", "openvino:bf16"]]
    choice = engine.choice
    assert (choice.backend, choice.precision, engine.precision) == ("openvino", "bf16", "bf16")
    assert choice.parity["openvino:bf16"].startswith("PSNR")  # an image output: pixels
    assert choice.p25_ms["openvino:bf16"] == 5.0 and "parity PSNR" in choice.line()
    assert choice.fingerprint["vector"] == BF16_CPU["vector"]
    again = load(models["swap"], threads=1)
    assert again.choice.cached and again.precision == "bf16" and len(calls) == 1


def test_forged_cache_from_another_cpu_is_measured_again(models, monkeypatch, caplog):
    cpu(monkeypatch, BF16_CPU)
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 50.0})
    load(models["swap"], threads=1)
    cache = models["swap"].with_name("swap.onnx" + choice_cache.CACHE_SUFFIX)
    doc = json.loads(cache.read_text())
    (key, entry), *_ = doc["choices"].items()
    entry.update(backend="openvino", precision="bf16")  # forged: "bf16 won on an AMX part"
    entry["fingerprint"] = {**entry["fingerprint"], "matrix": ["amx_tile", "amx_bf16"]}
    cache.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="ptx.runtime"):
        engine = load(models["swap"], threads=1)
    assert len(calls) == 2 and not engine.choice.cached  # measured again, not trusted
    assert engine.choice.precision == "fp32"  # bf16 is slower on this (fake) CPU
    (line,) = [r.getMessage() for r in caplog.records if "another CPU" in r.getMessage()]
    assert "amx_bf16" in line and "\n" not in line


def test_explicit_precision_the_cpu_lacks_is_one_line(models, monkeypatch):
    cpu(monkeypatch, OLD_CPU)
    for backend in ("auto", "openvino"):
        with pytest.raises(InputError) as info:
            load(models["swap"], backend=backend, precision="bf16")
        assert "\n" not in str(info.value)
        assert "precision bf16: this CPU (old CPU) has no avx512_bf16" in str(info.value)
    with pytest.raises(InputError, match="ONNX Runtime runs fp32 on the CPU"):
        load(models["swap"], backend="onnxruntime", precision="fp16")
    with pytest.raises(InputError, match="plan's precision is fixed when it is built"):
        load(models["swap"].with_suffix(".plan"), precision="fp16")
    with pytest.raises(InputError, match="unknown precision 'int4'"):
        load(models["swap"], precision="int4")
    engine = load(models["swap"], backend="openvino", precision="fp32")
    assert engine.inference_precision == "f32"


def test_openvino_without_the_capability_is_not_a_rung(monkeypatch):
    cpu(monkeypatch, BF16_CPU, ov_caps=("FP32", "INT8"))
    assert "OpenVINO reports no BF16" in ladder.unsupported("bf16")
    labels, notes = select.rungs(["onnxruntime", "openvino"], "auto")
    assert labels == ["onnxruntime", "openvino"]
    assert [n.split(":")[0] for n in notes] == ["no bf16", "no fp16", "no int8"]
    assert select.rungs(["onnxruntime", "openvino"], "fp32") == (["onnxruntime", "openvino"], [])


def test_gate_on_pixels_and_on_values():
    conv = ImageConvention()
    spec = ModelSpec(task="enhance", family="t", inputs=[], outputs=[], image=conv)
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    ok, text = ladder.gate(spec, {"y": x}, {"y": x + 1e-4})
    assert ok and text.startswith("PSNR")
    ok, text = ladder.gate(spec, {"y": x}, {"y": x + 0.05})  # ~12 levels off: 26 dB
    assert not ok and "PSNR" in text
    v = np.ones((2, 5), np.float32)
    assert ladder.gate(None, {"z": v}, {"z": v * 1.001})[0]
    ok, text = ladder.gate(None, {"z": v}, {"z": v * 1.1})
    assert not ok and text == "rel L2 1.0e-01"
    assert not ladder.gate(None, {"z": v}, {})[0]


def test_a_model_bf16_breaks_is_rejected_by_the_gate(tmp_path, monkeypatch, caplog):
    if ladder.unsupported("bf16"):  # needs real bf16 units: OpenVINO would run f32 otherwise
        pytest.skip(f"bf16 not runnable here: {ladder.unsupported('bf16')}")
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 12.0, "openvino:bf16": 1.0})
    path = amplifier_model(tmp_path / "amp.onnx")
    with caplog.at_level(logging.WARNING, logger="ptx.runtime"):
        engine = load(path, threads=1)
    assert "openvino:bf16" not in calls[0]  # dropped before the timing
    assert engine.choice.precision == "fp32"
    assert "fails the gate" in engine.choice.precision_note
    assert any("not using openvino:bf16" in r.getMessage() for r in caplog.records)

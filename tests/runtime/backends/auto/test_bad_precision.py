"""Bad input to the precision ladder the other tests leave out: each one line, the safe choice.

fp16 on this very processor (no faked capabilities), bf16 masked by the operator, and a
cached pick from another CPU that this one cannot even run.
"""

from __future__ import annotations

import json
import logging

import pytest

from ptx.errors import InputError
from ptx.runtime import load
from ptx.runtime.backends.auto import cache as choice_cache
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.backends.auto import select
from ptx.runtime.cpu import cpu_capabilities
from tests.runtime.backends.auto.test_precision import BF16_CPU, OLD_CPU, cpu, fake_timings

pytest.importorskip("openvino")


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.delenv("PTX_PRECISIONS", raising=False)
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)


def test_fp16_on_this_processor_without_its_units_is_one_line(models, monkeypatch):
    """The real /proc/cpuinfo and OpenVINO: nothing faked."""
    caps = cpu_capabilities()
    if (set(caps["matrix"]) | set(caps["vector"])) & set(ladder.UNITS["fp16"]):
        pytest.skip("this CPU has fp16 units")
    for backend in ("auto", "openvino"):
        with pytest.raises(InputError) as info:
            load(models["swap"], backend=backend, precision="fp16")
        assert str(info.value) == (
            f"precision fp16: this CPU ({caps['model']}) has no avx512_fp16 or amx_fp16; "
            "use --precision fp32 (or auto)"
        )
    fake_timings(monkeypatch, {"onnxruntime": 1.0, "openvino": 2.0, "openvino:bf16": 3.0})
    engine = load(models["swap"], threads=1)  # auto: fp16 is no rung, and it says why
    assert (engine.choice.backend, engine.choice.precision) == ("onnxruntime", "fp32")
    assert f"no fp16: this CPU ({caps['model']}) has no avx512_fp16" in engine.choice.line()


def test_bf16_masked_by_the_operator_is_one_line_and_auto_keeps_fp32(models, monkeypatch):
    cpu(monkeypatch, BF16_CPU)  # the units are there; the operator says no
    monkeypatch.setenv("PTX_PRECISIONS", "fp32")
    with pytest.raises(InputError) as info:
        load(models["swap"], backend="openvino", precision="bf16")
    assert str(info.value) == (
        "precision bf16: masked: PTX_PRECISIONS=fp32; use --precision fp32 (or auto)"
    )
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 1.0})
    engine = load(models["swap"], threads=1)
    assert calls == [["onnxruntime", "openvino"]]  # the masked rung was never loaded
    assert (engine.choice.backend, engine.choice.precision) == ("openvino", "fp32")
    assert engine.inference_precision == "f32"
    assert "no bf16: masked: PTX_PRECISIONS=fp32" in engine.choice.precision_note


def test_a_cached_bf16_pick_from_a_cpu_with_units_this_one_lacks(models, monkeypatch, caplog):
    """The cache says bf16 won (on a bf16 part); this CPU has no bf16: measured again, fp32."""
    cpu(monkeypatch, BF16_CPU)
    fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 4.0})
    assert load(models["swap"], threads=1).choice.precision == "bf16"
    cache = models["swap"].with_name("swap.onnx" + choice_cache.CACHE_SUFFIX)
    cpu(monkeypatch, OLD_CPU)  # the same model folder, now on an older processor
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 12.0})
    with caplog.at_level(logging.WARNING, logger="ptx.runtime"):
        engine = load(models["swap"], threads=1)
    assert calls == [["onnxruntime", "openvino"]] and not engine.choice.cached
    assert (engine.choice.backend, engine.choice.precision) == ("onnxruntime", "fp32")
    assert type(engine).__name__ == "OnnxRuntimeEngine"
    (line,) = [r.getMessage() for r in caplog.records if "another CPU" in r.getMessage()]
    assert "bf16 CPU: avx2, avx512f, avx512_bf16" in line and "\n" not in line
    (entry,) = json.loads(cache.read_text())["choices"].values()
    assert entry["fingerprint"]["cpu"] == "old CPU"  # the new answer replaced the stale one

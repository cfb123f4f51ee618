"""`ptx doctor --json` runs anywhere and says what this machine can do."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ptx.runtime.cli.doctor import doctor_cmd
from ptx.runtime.cuda import device_count
from ptx.runtime.kernels.compile import KERNELS, TARGETS, nvrtc_available


@pytest.fixture
def report(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path))
    result = CliRunner().invoke(doctor_cmd, ["--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_json_report_has_every_section(report):
    assert set(report) >= {"ptx", "python", "gpu", "tensorrt", "onnxruntime", "nvrtc"}
    assert "CPUExecutionProvider" in report["onnxruntime"]["providers"]
    assert report["gpu"]["count"] == len(report["gpu"]["devices"])
    from ptx.formats.tensorrt import installed

    assert sorted(report["tensorrt"]["flavours"].values()) == sorted(installed().values())


@pytest.mark.skipif(device_count() > 0, reason="this machine has a GPU")
def test_no_gpu_is_reported_not_raised(report):
    gpu = report["gpu"]
    assert gpu["count"] == 0 and gpu["devices"] == [] and gpu["reason"]


@pytest.mark.skipif(not nvrtc_available(), reason="NVRTC missing: pip install nvidia-cuda-nvrtc")
def test_every_kernel_target_pair_is_compiled_and_reported(report, tmp_path):
    nv = report["nvrtc"]
    assert nv["available"] and nv["all_ok"]
    pairs = [(k["kernel"], k["target"]) for k in nv["kernels"]]
    assert pairs == [(k, t) for k in KERNELS for t in TARGETS]
    assert not any(k["cached"] for k in nv["kernels"])  # a fresh cache: all compiled now
    assert len(list((tmp_path / "kernels").iterdir())) == len(pairs)
    again = CliRunner().invoke(doctor_cmd, [])
    assert again.exit_code == 0 and again.output.count(" ok") == len(pairs)
    assert "nvrtc: " + nv["version"] in again.output


def test_cpu_units_are_reported_as_the_cpu_says(report):
    from ptx.runtime.cpu import cpu_flags

    cpu = report["cpu"]
    flags = cpu_flags()
    assert cpu["physical_cores"] >= 1 and cpu["model"]
    assert all(f in flags for f in cpu["matrix"] + cpu["vector"])
    if "avx512_bf16" in flags:
        assert "avx512_bf16" in cpu["vector"]
    ov = cpu["openvino"]
    assert "capabilities" in ov or "note" in ov
    if "capabilities" in ov:
        assert "FP32" in ov["capabilities"] and ov["default_precision"] in ("f32", "bf16", "f16")


def test_cpu_precision_ladder_is_reported(report, monkeypatch):
    from ptx.runtime import doctor
    from ptx.runtime.backends.auto import precision as ladder

    assert set(report["cpu"]["ladder"]) == {"bf16", "fp16", "int8"}
    for p, why in report["cpu"]["ladder"].items():
        assert why == (ladder.unsupported(p) or "yes")
    monkeypatch.setenv("PTX_PRECISIONS", "fp32")
    line = next(x for x in doctor.render({**report, "cpu": doctor.cpu_report()}).splitlines()
                if x.startswith("cpu precision ladder"))  # fmt: skip
    assert "int8 no (masked: PTX_PRECISIONS=fp32)" in line and "\n" not in line

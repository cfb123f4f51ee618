"""--precision on `ptx run`, `ptx serve` and `ptx bench`: one line when the CPU lacks it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ptx.cli import main
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.backends.auto import select

pytest.importorskip("openvino")
OLD_CPU = {"model": "old CPU", "matrix": [], "vector": ["avx2", "fma"]}
BF16_CPU = {"model": "bf16 CPU", "matrix": [], "vector": ["avx2", "avx512f", "avx512_bf16"]}


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)


def cpu(monkeypatch, caps: dict) -> None:
    """Make the ladder see this processor (OpenVINO reports BF16 for it)."""
    monkeypatch.setattr(ladder, "cpu_capabilities", lambda: caps)
    monkeypatch.setattr(ladder, "openvino_capabilities", lambda: ("FP32", "BF16", "INT8"))


def enhance(model, photos, out, *args: str):
    return CliRunner().invoke(
        main,
        ["run", "enhance", "--model", str(model), "--input", str(photos), "--out", str(out),
         "--threads", "1", "--no-progress", *args],
    )  # fmt: skip


def test_precision_the_cpu_lacks_is_one_line(models, photo_folder, tmp_path, monkeypatch):
    cpu(monkeypatch, OLD_CPU)
    res = enhance(models["swap"], photo_folder, tmp_path / "out", "--precision", "bf16")
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().count("\n") == 0
    assert "precision bf16: this CPU (old CPU) has no avx512_bf16 or amx_bf16" in res.stderr


def test_auto_json_names_backend_precision_parity_and_timings(
    models, photo_folder, tmp_path, monkeypatch
):
    cpu(monkeypatch, BF16_CPU)
    ms = {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 4.0}
    monkeypatch.setattr(
        select, "time_interleaved", lambda runners, **_: {n: [ms[n] / 1e3] * 5 for n in runners}
    )
    res = enhance(models["swap"], photo_folder, tmp_path / "out", "--json")
    assert res.exit_code == 0, res.output
    choice = json.loads(res.stdout)["backend_choice"]
    assert (choice["backend"], choice["precision"]) == ("openvino", "bf16")
    assert choice["parity"]["openvino:bf16"].startswith("PSNR")
    assert choice["p25_ms"] == ms and choice["fingerprint"]["cpu"] == "bf16 CPU"
    res = enhance(models["swap"], photo_folder, tmp_path / "out2")
    assert "backend openvino, precision bf16 (auto:" in res.stderr and "parity PSNR" in res.stderr


@pytest.mark.parametrize(
    "command", [["run", "enhance"], ["run", "stylize"], ["run", "vae"], ["run", "generate"],
                ["serve"], ["bench"]],
)  # fmt: skip
def test_every_run_command_serve_and_bench_take_precision(command):
    res = CliRunner().invoke(main, [*command, "--help"])
    assert res.exit_code == 0 and "--precision [auto|fp32|bf16|fp16|int8]" in res.stdout


def test_serve_passes_precision_to_every_load(models, monkeypatch):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    cpu(monkeypatch, OLD_CPU)
    res = CliRunner().invoke(
        main, ["serve", "--model", f"m={models['swap']}", "--precision", "bf16", "--port", "0"]
    )
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().count("\n") == 0 and "precision bf16: this CPU" in res.stderr

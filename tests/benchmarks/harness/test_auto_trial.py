"""`ptx bench --backend auto`: the auto trial runs at the shapes being benchmarked."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ptx.benchmarks.harness.backends import Target
from ptx.benchmarks.harness.bench import auto_trial
from ptx.benchmarks.harness.inputs import onnx_shapes
from ptx.cli import main
from ptx.errors import InputError
from ptx.runtime.backends.auto import select
from ptx.runtime.backends.auto.cache import CACHE_SUFFIX
from ptx.tensors import parse_named_shape

QUICK = ["--duration", "0.05", "--warmup", "0", "--iterations", "2", "--no-iterations"]


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)  # conftest pins auto to ONNX Runtime
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)


def trial_keys(model) -> dict[str, dict]:
    """The auto cache's entries beside ``model``, by their shape part."""
    doc = json.loads(model.with_name(model.name + CACHE_SUFFIX).read_text())
    return {key.split("|")[0]: entry for key, entry in doc["choices"].items()}


def test_onnx_shapes_are_the_benchmarked_shapes(dynamic_onnx, hw_onnx):
    # dynamic_onnx: profile opt 2x3x16x16, batch 1..4; hw_onnx: no spec, every dim open
    assert onnx_shapes(dynamic_onnx) == {"x": (2, 3, 16, 16)}
    assert onnx_shapes(dynamic_onnx, batch=4) == {"x": (4, 3, 16, 16)}
    given = [parse_named_shape("x:3x3x16x16")]
    assert onnx_shapes(dynamic_onnx, given) == {"x": (3, 3, 16, 16)}
    assert onnx_shapes(hw_onnx, [parse_named_shape("x:1x3x24x40")]) == {"x": (1, 3, 24, 40)}
    with pytest.raises(InputError, match="outside the model's profile"):
        onnx_shapes(dynamic_onnx, batch=8)
    assert auto_trial(Target(model=str(dynamic_onnx), backend="auto"))
    assert not auto_trial(Target(model=str(dynamic_onnx)))
    assert not auto_trial(Target(model=str(dynamic_onnx), backend="auto", device="cuda"))


def test_bench_auto_trials_at_the_benchmarked_shape_not_the_opt_shape(dynamic_onnx):
    pytest.importorskip("openvino")  # a second CPU backend: something to trial
    args = ["bench", "--model", str(dynamic_onnx), "--backend", "auto", "--precision", "fp32"]
    res = CliRunner().invoke(main, [*args, "--shapes", "x:3x3x16x16", *QUICK, "--json", "-"])
    assert res.exit_code == 0, res.output
    (run,) = json.loads(res.stdout)["runs"]
    assert run["inputs"]["x"]["shape"] == [3, 3, 16, 16]
    keys = trial_keys(dynamic_onnx)
    assert list(keys) == ["x:3x3x16x16"]  # not the spec's opt 2x3x16x16, nor "spec"
    assert keys["x:3x3x16x16"]["shapes"] == {"x": [3, 3, 16, 16]}
    assert run["backend"] == keys["x:3x3x16x16"]["backend"]  # what ran is the pick
    choice = run["backend_choice"]  # the decision is in the report, as the cache holds it
    assert choice["backend"] == run["backend"] and choice["shapes"] == {"x": [3, 3, 16, 16]}
    assert choice["reason"] and choice["medians_ms"]


def test_a_named_backend_reports_no_choice(dynamic_onnx):
    args = ["bench", "--model", str(dynamic_onnx), *QUICK, "--json", "-"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    (run,) = json.loads(res.stdout)["runs"]
    assert run["backend"] == "onnxruntime" and "backend_choice" not in run


def test_a_bench_batch_sweep_trials_at_each_batch(dynamic_onnx, hw_onnx):
    pytest.importorskip("openvino")
    args = ["bench", "--backend", "auto", "--precision", "fp32", *QUICK, "--json", "-"]
    res = CliRunner().invoke(main, [*args, "--model", str(dynamic_onnx), "--batch", "1,4"])
    assert res.exit_code == 0, res.output
    assert [r["batch"] for r in json.loads(res.stdout)["runs"]] == [1, 4]
    keys = trial_keys(dynamic_onnx)
    assert sorted(keys) == ["x:1x3x16x16", "x:4x3x16x16"]
    assert keys["x:4x3x16x16"]["shapes"] == {"x": [4, 3, 16, 16]}
    # A foreign model (no spec): --shapes with --batch, the batch axis from --batch.
    shape = ["--shapes", "x:1x3x24x40", "--batch", "2"]
    res = CliRunner().invoke(main, [*args, "--model", str(hw_onnx), *shape])
    assert res.exit_code == 0, res.output
    assert list(trial_keys(hw_onnx)) == ["x:2x3x24x40"]


def test_a_shape_outside_the_profile_is_one_line_before_any_trial(dynamic_onnx):
    args = ["bench", "--model", str(dynamic_onnx), "--backend", "auto", "--batch", "8", *QUICK]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "outside the model's profile" in lines[0], res.stderr
    assert not dynamic_onnx.with_name(dynamic_onnx.name + CACHE_SUFFIX).exists()

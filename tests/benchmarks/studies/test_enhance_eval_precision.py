"""enhance_eval --backend / --precision reach ptx.runtime.load; the result names the engine."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from ptx.benchmarks.serving.serve_precision import SHIPPED
from ptx.benchmarks.studies import enhance_eval
from ptx.errors import InputError

pytest.importorskip("albumentations")
pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def tiny_enhancer(tmp_path_factory):
    """The shipped enhancer (small, with its spec; no torch export), in a folder of its own."""
    path = tmp_path_factory.mktemp("m") / "enhance.onnx"
    shutil.copy(SHIPPED, path)
    return path


def test_auto_precision_runs_the_ladder_and_names_its_pick(tiny_enhancer, tmp_path, monkeypatch):
    monkeypatch.delenv("PTX_BACKEND", raising=False)  # auto runs its own trial
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "cache"))
    args = ["--model", str(tiny_enhancer), "--photos", "coffee", "--degradations", "jpeg"]
    args += ["--max-side", "48", "--backend", "auto", "--precision", "auto"]
    res = CliRunner().invoke(enhance_eval.main, [*args, "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "r" / "enhance_eval.json").read_text())
    assert saved["engine"].startswith("backend ") and "(auto: " in saved["engine"]
    assert f"enhancer: {saved['engine']}" in res.stderr
    assert [r["photo"] for r in saved["clean"]] == ["coffee"] and len(saved["pairs"]) == 1


def test_named_backend_and_precision_reach_the_engine(tiny_enhancer):
    enhance = enhance_eval.model_enhancer(tiny_enhancer, threads=1, backend="openvino")
    assert enhance.args[0].backend == "openvino"
    assert enhance_eval._ran(enhance.args[0]) == "backend openvino, precision f32"
    with pytest.raises(InputError, match="ONNX Runtime runs fp32 on the CPU"):
        enhance_eval.model_enhancer(tiny_enhancer, backend="onnxruntime", precision="bf16")

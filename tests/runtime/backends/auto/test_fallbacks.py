"""``auto`` never makes a model fail that one of its backends runs; a bad cache is re-measured."""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ptx.errors import InputError
from ptx.runtime import load
from ptx.runtime.backends.auto import cache as choice_cache
from ptx.runtime.backends.auto import select

pytest.importorskip("openvino")
OLD_CPU = {"model": "old CPU", "matrix": [], "vector": ["avx2", "fma"]}


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    # An old CPU: the precision ladder (test_precision.py) adds no reduced rung here.
    monkeypatch.setattr(select.ladder, "cpu_capabilities", lambda: OLD_CPU)
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)


def expand_model(path):
    """y = Expand(x [1, 3, 1], shape): made-up shape values (zeros) are an invalid expand."""
    graph = helper.make_graph(
        [helper.make_node("Expand", ["x", "shape"], ["y"])],
        "expand",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1]),
            helper.make_tensor_value_info("shape", TensorProto.INT64, [3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_trial_no_backend_can_run_falls_back_and_says_so(tmp_path, caplog):
    path = expand_model(tmp_path / "expand.onnx")
    with caplog.at_level(logging.WARNING, logger="ptx.runtime"):
        engine = load(path)  # before: the trial's ModelError failed the load
    assert engine.backend == "onnxruntime" and "unmeasured" in engine.choice.reason
    assert any("made-up trial input" in r.getMessage() for r in caplog.records)
    x = np.arange(3, dtype=np.float32).reshape(1, 3, 1)
    y = engine.run({"x": x, "shape": np.array([2, 3, 4], np.int64)})["y"]
    np.testing.assert_array_equal(y, np.broadcast_to(x, (2, 3, 4)))


@pytest.mark.parametrize("bad", ["nonsense", "tensorrt", 42, None])
def test_unknown_backend_in_the_cache_is_measured_again(models, bad):
    first = load(models["affine"], threads=1)
    cache = models["affine"].with_name("affine.onnx" + choice_cache.CACHE_SUFFIX)
    doc = json.loads(cache.read_text())
    for entry in doc["choices"].values():
        entry["backend"] = bad
    cache.write_text(json.dumps(doc))
    again = load(models["affine"], threads=1)  # before: KeyError traceback
    assert again.backend in ("onnxruntime", "openvino") and not again.choice.cached
    assert first.backend in ("onnxruntime", "openvino")


def test_unwritable_cache_beside_the_model_is_not_a_failure(models, monkeypatch, tmp_path):
    beside = models["affine"].with_name("affine.onnx" + choice_cache.CACHE_SUFFIX)
    beside.unlink(missing_ok=True)
    real = choice_cache.atomic_write_text

    def refuse_beside(path, text):
        if path == beside:  # what ptx.io raises for a read-only folder
            raise InputError(f"{path}: cannot write here (Permission denied)")
        real(path, text)

    monkeypatch.setattr(choice_cache, "atomic_write_text", refuse_beside)
    engine = load(models["affine"], threads=1)
    assert engine.choice.cache_file.startswith(str(tmp_path / "user-cache"))

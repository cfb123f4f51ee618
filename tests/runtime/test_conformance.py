"""Conformance over the ONNX package's own backend test models (with their test data).

Every model that bare ONNX Runtime runs correctly must run correctly through
``ptx.runtime.load`` with the default backend (``auto``: both CPU backends, the trial,
the agreement check) and with ``onnxruntime``; OpenVINO either matches or refuses
with one line. Models with sequence, map, optional or string inputs or outputs are
refused with one line by every ptx backend (ptx serves numeric tensors). The ``simple``
set (where the trial and naming bugs were) runs in every CI run; the others are ``slow``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ptx.errors import PtxError
from ptx.runtime import load
from ptx.runtime.backends.auto import select
from ptx.tensors import DTYPES

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

ROOT = Path(onnx.__file__).parent / "backend" / "test" / "data"
SETS = ("simple", "light", "pytorch-converted", "pytorch-operator", "real")
RTOL, ATOL = 1e-3, 1e-5  # the ONNX backend tests' rtol; atol for values near zero
OV_RTOL, OV_ATOL = 1e-3, 1e-4


def _cases() -> list:
    out = []
    for name in SETS:
        for d in sorted((ROOT / name).glob("*")):
            if (d / "model.onnx").is_file() and (d / "test_data_set_0").is_dir():
                marks = [] if name == "simple" else [pytest.mark.slow]
                out.append(pytest.param(d, id=f"{name}/{d.name}", marks=marks))
    return out


def _servable_io(model) -> bool:
    """Tensors of a dtype ptx feeds (not sequences, maps, optionals or strings)."""
    inits = {t.name for t in model.graph.initializer}
    values = [v for v in model.graph.input if v.name not in inits] + list(model.graph.output)
    codes = {d.onnx for d in DTYPES.values()}
    return all(
        v.type.WhichOneof("value") == "tensor_type" and v.type.tensor_type.elem_type in codes
        for v in values
    )


def _data(folder: Path, kind: str) -> list[np.ndarray]:
    files = sorted(folder.glob(f"{kind}_*.pb"), key=lambda f: int(f.stem.split("_")[1]))
    return [numpy_helper.to_array(onnx.load_tensor(str(f))) for f in files]


def _close(got: list, want: list, rtol: float, atol: float) -> bool:
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape:
            return False
        if w.dtype.kind in "fc":
            if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
                return False
        elif not np.array_equal(g, w):
            return False
    return True


def _run(engine, inputs: list) -> list:
    feeds = {t.name: a for t, a in zip(engine.inputs, inputs, strict=True)}
    out = engine.run(feeds)
    return [out[t.name] for t in engine.outputs]


def _one_line(exc: BaseException) -> None:
    assert isinstance(exc, PtxError), f"{type(exc).__name__}: {exc}"
    assert "\n" not in str(exc) and "Traceback" not in str(exc), str(exc)


@pytest.mark.parametrize("folder", _cases())
def test_ptx_runs_what_onnxruntime_runs(folder: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PTX_BACKEND", raising=False)  # the default backend: auto
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)  # the minimum rounds: CI time
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "cache"))
    model_path = tmp_path / "model.onnx"  # auto writes its choice beside the model
    shutil.copy(folder / "model.onnx", model_path)
    model = onnx.load(str(model_path))
    if not _servable_io(model):
        for backend in ("auto", "onnxruntime", "openvino"):
            with pytest.raises(PtxError) as err:
                load(model_path, backend=backend)
            _one_line(err.value)
        return
    data = folder / "test_data_set_0"
    inputs, expected = _data(data, "input"), _data(data, "output")
    try:
        session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        bare = session.run(None, dict(zip(names, inputs, strict=True)))
    except Exception:
        pytest.skip("bare ONNX Runtime cannot run it")
    if not _close(bare, expected, RTOL, ATOL):
        pytest.skip("bare ONNX Runtime does not match the expected outputs")
    for backend in ("auto", "onnxruntime"):
        engine = load(model_path, backend=backend)
        try:
            got = _run(engine, inputs)
        finally:
            engine.close()
        assert _close(got, expected, RTOL, ATOL), f"{backend} differs from the expected outputs"
    try:
        engine = load(model_path, backend="openvino")
        got = _run(engine, inputs)
    except Exception as exc:  # noqa: BLE001 - a refusal is fine when it is one line
        _one_line(exc)
        return
    engine.close()
    assert _close(got, expected, OV_RTOL, OV_ATOL), "openvino runs it but differs"

"""The v2 model metadata names the backend and precision of the engine actually loaded."""

from __future__ import annotations

import json
import urllib.request

import pytest

from ptx.errors import InputError
from ptx.runtime.backends.auto import precision as ladder
from ptx.runtime.backends.auto import select
from ptx.runtime.server.app import create_app
from ptx.runtime.server.config import ServerConfig
from tests.runtime.backends.auto.test_precision import BF16_CPU

pytest.importorskip("openvino")
pytest.importorskip("starlette")


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)
    monkeypatch.setattr(ladder, "cpu_capabilities", lambda: BF16_CPU)
    monkeypatch.setattr(ladder, "openvino_capabilities", lambda: ("FP32", "BF16", "INT8"))


def fake_timings(monkeypatch, ms: dict[str, float]) -> list:
    """Every trial sees these per-call times (ms); records each trial's input shapes."""
    seen = []

    def timed(runners, **_):
        for run in runners.values():
            seen.append(next(iter(run().values())).shape)
        return {n: [ms[n] / 1e3] * 7 for n in runners}

    monkeypatch.setattr(select, "time_interleaved", timed)
    return seen


def metadata(srv, models: dict, **options) -> dict:
    """GET /v2/models/m of a server started for ``models``."""
    s = srv.start(models, **options)
    try:
        with urllib.request.urlopen(f"{s.url}/v2/models/m", timeout=10) as r:
            return json.loads(r.read())
    finally:
        s.stop()


def test_auto_reports_the_rung_it_measured_at_the_trial_shape(models, srv, monkeypatch):
    seen = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 5.0})
    meta = metadata(srv, {"m": models["swap"]}, trial_shapes={"image": (1, 3, 32, 40)})
    params = meta["parameters"]
    assert (params["backend"], params["precision"]) == ("openvino", "bf16")
    line = params["backend_choice"]
    assert "precision bf16" in line and "faster (1.80x" in line
    assert set(seen) == {(1, 3, 32, 40)}  # the trial ran at the served size


def test_auto_that_keeps_fp32_says_fp32(models, srv, monkeypatch):
    fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 8.9})
    params = metadata(srv, {"m": models["swap"]})["parameters"]
    assert (params["backend"], params["precision"]) == ("openvino", "fp32")
    line = params["backend_choice"]
    assert "fp32 kept: " in line and "openvino:bf16 was not >= 5% faster than openvino" in line


@pytest.mark.parametrize(
    ("backend", "precision", "want"),
    [("onnxruntime", "fp32", "fp32"), ("openvino", "fp32", "fp32"), ("openvino", "bf16", "bf16")],
)
def test_a_named_backend_reports_its_precision(models, srv, backend, precision, want):
    params = metadata(srv, {"m": models["affine"]}, backend=backend, precision=precision)[
        "parameters"
    ]
    assert (params["backend"], params["precision"]) == (backend, want)
    assert "backend_choice" not in params  # nothing was measured


def test_a_bad_trial_shape_is_one_line_for_any_backend(models):
    for backend, words in (("onnxruntime", "--trial-shape for model 'm'"), ("auto", "trial shape")):
        config = ServerConfig(
            models={"m": models["affine"]}, port=0, backend=backend,
            trial_shapes={"image": (1, 3, 8)},
        )  # fmt: skip
        with pytest.raises(InputError) as info:
            create_app(config)
        assert "\n" not in str(info.value) and words in str(info.value)
        assert "has rank 4" in str(info.value)

"""The auto trial at the size it will serve, and a reduced rung only when clearly faster."""

from __future__ import annotations

import json

import onnx
import pytest

from ptx.errors import InputError
from ptx.runtime import load
from ptx.runtime.backends.auto import cache as choice_cache
from ptx.runtime.backends.auto import decision, select
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx
from tests.runtime.backends.auto.test_precision import BF16_CPU, cpu

pytest.importorskip("openvino")
NCHW = ["batch", 3, "height", "width"]


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    monkeypatch.setattr(select, "TRIAL_BUDGET_S", 0.0)


def profiled_model(path, helpers):
    """The affine test model with a profile: opt 1x3x16x16, max 2x3x64x64."""
    helpers.affine_model(path)
    model = onnx.load(str(path))
    spec = ModelSpec(
        task="enhance",
        family="test",
        inputs=[TensorSpec("image", "float32", NCHW)],
        outputs=[TensorSpec("out", "float32", NCHW)],
        image=ImageConvention(),
        profile=ShapeProfile(
            min={"image": [1, 3, 8, 8]},
            opt={"image": [1, 3, 16, 16]},
            max={"image": [2, 3, 64, 64]},
        ),
    )
    embed_in_onnx(model, spec)
    onnx.save(model, str(path))
    return path


def sized_timings(monkeypatch, by_side: dict[int, dict[str, float]]) -> list:
    """Per-call times (ms) that depend on the trial's image side: what a real CPU shows."""
    calls = []

    def timed(runners, **kwargs):
        sides = []
        for run in runners.values():
            out = run()
            sides.append(next(iter(out.values())).shape[-1])
        side = sides[0]
        calls.append((side, sorted(runners), kwargs.get("min_rounds")))
        return {n: [by_side[side][n] / 1e3] * 7 for n in runners}

    monkeypatch.setattr(select, "time_interleaved", timed)
    return calls


# -- the decision rule ---------------------------------------------------------
def test_a_rung_must_win_by_the_margin_and_in_most_rounds():
    fp32 = [0.100] * 7
    times = {"onnxruntime": [0.12] * 7, "openvino": fp32, "openvino:bf16": [0.097] * 7}
    winner, reason, lost, won = decision.decide_ladder(times, default="onnxruntime")
    assert winner == "openvino" and won == ""  # 3% faster: inside the noise, fp32 stays
    assert lost == [
        "openvino:bf16 was not >= 5% faster than openvino in most rounds "
        "(1.03x, faster in 7 of 7 rounds)"
    ]
    assert reason.startswith("openvino:bf16 97.00 ms vs openvino 100.00 ms")
    times["openvino:bf16"] = [0.080] * 7
    winner, _, lost, won = decision.decide_ladder(times, default="onnxruntime")
    assert (winner, lost, won) == (
        "openvino:bf16",
        [],
        "1.25x, faster in 7 of 7 rounds than openvino",
    )
    # A low lower quartile from 2 lucky calls, slower in 5 of 7 rounds: not a win.
    times["openvino:bf16"] = [0.05, 0.05, 0.11, 0.11, 0.11, 0.11, 0.11]
    winner, _, lost, _ = decision.decide_ladder(times, default="onnxruntime")
    assert winner == "openvino" and "faster in 2 of 7 rounds" in lost[0]


def test_the_second_clear_winner_is_said_to_be_slower_than_the_pick():
    times = {"onnxruntime": [0.1] * 5, "openvino:bf16": [0.05] * 5, "openvino:int8": [0.06] * 5}
    winner, _, lost, _ = decision.decide_ladder(times, default="onnxruntime")
    assert winner == "openvino:bf16" and lost == ["openvino:int8 was slower than openvino:bf16"]
    assert decision.decide_ladder({"onnxruntime": [0.1]}, "onnxruntime")[:3] == (
        "onnxruntime", "onnxruntime 100.00 ms, lower quartile of 1 interleaved runs", []
    )  # fmt: skip


def test_a_narrow_bf16_keeps_fp32_and_says_so(models, monkeypatch):
    cpu(monkeypatch, BF16_CPU)
    calls = sized_timings(
        monkeypatch, {64: {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 8.8}}
    )
    engine = load(models["swap"], threads=1, trial_shapes={"image": (1, 3, 64, 64)})
    assert calls[0][2] == select.LADDER_MIN_ROUNDS  # a ladder trial gets its longer floor
    assert (engine.choice.backend, engine.choice.precision) == ("openvino", "fp32")
    assert "fp32 kept" in engine.choice.line()
    assert "openvino:bf16 was not >= 5% faster than openvino" in engine.choice.precision_note


def test_a_pick_at_one_size_is_not_reused_at_another(models, monkeypatch):
    cpu(monkeypatch, BF16_CPU)
    calls = sized_timings(
        monkeypatch,
        {
            16: {"onnxruntime": 10.0, "openvino": 9.0, "openvino:bf16": 8.9},  # a tie
            64: {"onnxruntime": 100.0, "openvino": 90.0, "openvino:bf16": 60.0},  # bf16 1.5x
        },
    )
    small = load(models["swap"], threads=1, trial_shapes={"image": (1, 3, 16, 16)})
    big = load(models["swap"], threads=1, trial_shapes={"image": (1, 3, 64, 64)})
    assert [c[0] for c in calls] == [16, 64]  # the 64 trial ran: the 16 pick was not reused
    assert small.choice.precision == "fp32" and big.choice.precision == "bf16"
    assert big.choice.shapes == {"image": [1, 3, 64, 64]}
    again = load(models["swap"], threads=1, trial_shapes={"image": (1, 3, 16, 16)})
    assert again.choice.cached and again.choice.precision == "fp32" and len(calls) == 2
    cache = models["swap"].with_name("swap.onnx" + choice_cache.CACHE_SUFFIX)
    keys = list(json.loads(cache.read_text())["choices"])
    assert sorted(k.split("|")[0] for k in keys) == ["image:1x3x16x16", "image:1x3x64x64"]


def test_a_trial_shape_outside_the_profile_is_one_line_and_not_cached(
    tmp_path, helpers, monkeypatch
):
    cpu(monkeypatch, BF16_CPU)
    calls = sized_timings(monkeypatch, {})
    path = profiled_model(tmp_path / "prof.onnx", helpers)
    for shape, words in (
        ((1, 3, 128, 128), "outside the model's profile"),
        ((1, 3, 64), "has rank 4"),
    ):
        with pytest.raises(InputError) as info:
            load(path, threads=1, trial_shapes={"image": shape})
        text = str(info.value)
        assert "\n" not in text and "prof.onnx (trial shape)" in text and words in text
    with pytest.raises(InputError, match="not inputs"):
        load(path, threads=1, trial_shapes={"x": (1, 3, 16, 16)})
    assert calls == []  # nothing was timed
    assert not path.with_name("prof.onnx" + choice_cache.CACHE_SUFFIX).exists()

"""``backend="auto"``: the decision rule (injected timings), the cache, and the fallbacks."""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from ptx import timing
from ptx.errors import InputError, ModelError
from ptx.runtime import load
from ptx.runtime.backends.auto import cache as choice_cache
from ptx.runtime.backends.auto import select
from ptx.spec import ImageConvention

pytest.importorskip("openvino")
OLD_CPU = {"model": "old CPU", "matrix": [], "vector": ["avx2", "fma"]}


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PTX_BACKEND", raising=False)
    # An old CPU: the precision ladder (test_precision.py) adds no reduced rung here.
    monkeypatch.setattr(select.ladder, "cpu_capabilities", lambda: OLD_CPU)


def one_op_model(path, op: str, domain: str, shape=(2, 4, 4)):
    """A model of one op on float input x (the same helper as in test_openvino.py)."""
    graph = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"], domain=domain)],
        "one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)]
    )
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def fake_timings(monkeypatch, ms: dict[str, float]):
    """Make every trial see these per-call times (ms), whatever the machine does."""
    calls = []

    def timed(runners, **_):
        calls.append(sorted(runners))
        for run in runners.values():
            run()  # the runners still run: a broken one would show
        return {name: [ms[name] / 1e3] * 5 for name in runners}

    monkeypatch.setattr(select, "time_interleaved", timed)
    return calls


# -- the decision rule ---------------------------------------------------------
def test_decide_takes_the_lower_quartile():
    times = {"onnxruntime": [0.10, 0.30, 0.11], "openvino": [0.09, 0.08, 0.50]}
    best, reason = select.decide(times)
    assert best == "openvino"  # 0.085 < 0.105, whatever the means say
    assert reason.startswith("openvino 85.00 ms vs onnxruntime 105.00 ms")
    assert "lower quartile of 3" in reason
    # Load from elsewhere slowed three of onnxruntime's five calls: its median (0.2) is a
    # disturbed call, its lower quartile (0.1) its own speed, which beats 0.12.
    busy = {"onnxruntime": [0.1, 0.2, 0.1, 0.2, 0.2], "openvino": [0.12] * 5}
    assert select.decide(busy)[0] == "onnxruntime"
    assert select.lower_quartile([0.3]) == 0.3


def test_decide_keeps_the_default_within_the_margin():
    near = {"onnxruntime": [0.1015], "openvino": [0.1000]}
    assert select.decide(near, margin=0.02)[0] == "onnxruntime"
    assert select.decide(near, margin=0.0)[0] == "openvino"
    far = {"onnxruntime": [0.104], "openvino": [0.100]}
    assert select.decide(far, margin=0.02)[0] == "openvino"
    assert select.decide({"openvino": [0.2]})[0] == "openvino"
    with pytest.raises(ValueError):
        select.decide({"onnxruntime": []})


def test_interleaved_rounds_alternate_and_respect_budget():
    assert select.time_interleaved is timing.time_interleaved  # the one timer, not a copy
    assert select.lower_quartile is timing.lower_quartile
    now = [0.0]
    order = []

    def runner(name, cost):
        def run():
            order.append(name)
            now[0] += cost

        return run

    runners = {"a": runner("a", 0.1), "b": runner("b", 0.3)}
    times = select.time_interleaved(
        runners, budget_s=1.0, min_rounds=2, clock=lambda: now[0], quiet=lambda: None
    )
    assert order[:4] == ["a", "b", "b", "a"]  # A B, then B A: drift hits both alike
    assert times["a"] == pytest.approx([0.1] * 3) and times["b"] == pytest.approx([0.3] * 3)
    order.clear()
    slow = {"a": runner("a", 5.0), "b": runner("b", 5.0)}
    times = select.time_interleaved(
        slow, budget_s=1.0, min_rounds=2, clock=lambda: now[0], quiet=lambda: None
    )
    assert len(times["a"]) == 2  # the minimum rounds run even past the budget
    fast = {"a": runner("a", 0.0), "b": runner("b", 0.0)}
    assert (
        len(
            select.time_interleaved(fast, max_rounds=4, clock=lambda: now[0], quiet=lambda: None)[
                "a"
            ]
        )
        == 4
    )


def test_trial_inputs_follow_the_one_example_input_rule(models):
    engine = load(models["affine"], backend="onnxruntime")
    shapes, feeds = select.trial_inputs(engine)
    assert shapes == {"image": (1, 3, 64, 64)}  # ptx.inputs: open batch 1, other open dims 64
    assert feeds["image"].dtype == np.float32 and feeds["image"].shape == (1, 3, 64, 64)
    shapes, feeds = select.trial_inputs(engine, {"image": (2, 3, 8, 8)})
    assert shapes == {"image": (2, 3, 8, 8)} and feeds["image"].shape == (2, 3, 8, 8)
    with pytest.raises(InputError, match="axis 1 is 4, the model fixes it at 3"):
        select.trial_inputs(engine, {"image": (1, 4, 8, 8)})


def test_trial_feeds_respect_the_spec_range(tmp_path, helpers):
    """The trial used to feed [0, 1) whatever the model took; now pixels in its own range."""
    path = helpers.affine_model(tmp_path / "signed.onnx", conv=ImageConvention(range=(-1.0, 1.0)))
    engine = load(path, backend="onnxruntime")
    _, feeds = select.trial_inputs(engine, {"image": (2, 3, 16, 16)})
    x = feeds["image"]
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.min() < -0.9 and x.max() > 0.9  # spans the range, not [0, 1)
    _, again = select.trial_inputs(engine, {"image": (2, 3, 16, 16)})
    np.testing.assert_array_equal(again["image"], x)  # seeded: the same trial every time


# -- the trial, its cache and load() --------------------------------------------
@pytest.mark.parametrize("winner", ["openvino", "onnxruntime"])
def test_auto_picks_the_faster_and_caches_beside_the_model(models, monkeypatch, winner):
    ms = (
        {"onnxruntime": 10.0, "openvino": 5.0}
        if winner == "openvino"
        else {
            "onnxruntime": 5.0,
            "openvino": 10.0,
        }
    )
    calls = fake_timings(monkeypatch, ms)
    engine = load(models["swap"], threads=1)
    assert engine.backend == winner and engine.choice.backend == winner
    assert not engine.choice.cached and calls == [["onnxruntime", "openvino"]]
    x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
    np.testing.assert_array_equal(engine(x)["out"], x[:, ::-1])  # the engine is usable
    cache = models["swap"].with_name("swap.onnx" + choice_cache.CACHE_SUFFIX)
    doc = json.loads(cache.read_text())
    assert doc["model_sha256"] == choice_cache.model_digest(models["swap"])
    (key, entry), *_ = doc["choices"].items()
    assert entry["backend"] == winner and "threads=1" in key and "openvino=" in key
    assert entry["fingerprint"]["cpu"] == OLD_CPU["model"]  # the CPU it was measured on
    again = load(models["swap"], threads=1)  # paid once: no second trial
    assert again.backend == winner and again.choice.cached and len(calls) == 1
    load(models["swap"], threads=2)  # another thread count is another measurement
    assert len(calls) == 2 and len(json.loads(cache.read_text())["choices"]) == 2


def test_changed_model_or_versions_measure_again(models, helpers, monkeypatch):
    calls = fake_timings(monkeypatch, {"onnxruntime": 5.0, "openvino": 10.0})
    load(models["affine"], threads=1)
    helpers.affine_model(models["affine"], scale=0.75)  # same path, new weights
    load(models["affine"], threads=1)
    monkeypatch.setattr(select, "backend_versions", lambda names: dict.fromkeys(names, "0.1"))
    load(models["affine"], threads=1)
    assert len(calls) == 3


def test_trial_shape_is_part_of_the_key(models, monkeypatch):
    calls = fake_timings(monkeypatch, {"onnxruntime": 5.0, "openvino": 10.0})
    load(models["affine"], threads=1, trial_shapes={"image": (2, 3, 8, 8)})
    load(models["affine"], threads=1, trial_shapes={"image": (2, 3, 8, 8)})
    assert len(calls) == 1
    engine = load(models["affine"], threads=1)
    assert len(calls) == 2 and engine.choice.shapes == {"image": [1, 3, 64, 64]}


def test_read_only_folder_caches_in_the_user_dir(models, monkeypatch, tmp_path):
    beside = models["affine"].with_name("affine.onnx" + choice_cache.CACHE_SUFFIX)
    real = choice_cache.atomic_write_text

    def refuse_beside(path, text):
        if path == beside:
            raise PermissionError(13, "Permission denied")
        real(path, text)

    monkeypatch.setattr(choice_cache, "atomic_write_text", refuse_beside)
    calls = fake_timings(monkeypatch, {"onnxruntime": 5.0, "openvino": 10.0})
    engine = load(models["affine"], threads=1)
    assert not beside.exists()
    assert engine.choice.cache_file.startswith(str(tmp_path / "user-cache" / "backend"))
    assert load(models["affine"], threads=1).choice.cached and len(calls) == 1


def test_op_openvino_rejects_falls_back_to_onnxruntime(tmp_path, caplog):
    path = one_op_model(tmp_path / "inv.onnx", "Inverse", "com.microsoft")
    with caplog.at_level(logging.INFO, logger="ptx.runtime"):
        engine = load(path)
    assert engine.backend == "onnxruntime"
    assert "com.microsoft.Inverse" in engine.choice.reason
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "not using openvino" in warned[0] and "Inverse" in warned[0]
    x = np.eye(4, dtype=np.float32)[None].repeat(2, 0) * 2
    np.testing.assert_allclose(engine(x)["y"], x / 4)


def test_op_neither_runs_is_onnxruntimes_error(tmp_path):
    path = one_op_model(tmp_path / "acme.onnx", "Frobnicate", "com.acme")
    with pytest.raises(ModelError, match="Frobnicate") as info:
        load(path)
    with pytest.raises(ModelError) as ort_only:
        load(path, backend="onnxruntime")
    assert str(info.value) == str(ort_only.value) and "\n" not in str(info.value)


def test_disagreeing_backend_loses(models, monkeypatch, caplog):
    monkeypatch.setattr(select, "relative_l2", lambda a, b: 0.5)
    fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 1.0})
    with caplog.at_level(logging.WARNING, logger="ptx.runtime"):
        engine = load(models["affine"], threads=1)
    assert engine.backend == "onnxruntime" and "differs" in engine.choice.reason
    assert any("differs" in r.getMessage() for r in caplog.records)


def test_env_and_named_backend_skip_the_trial(models, monkeypatch):
    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 1.0})
    monkeypatch.setenv("PTX_BACKEND", "onnxruntime")
    assert load(models["affine"]).backend == "onnxruntime"
    monkeypatch.setenv("PTX_BACKEND", "openvino")
    assert load(models["affine"]).backend == "openvino"
    monkeypatch.setenv("PTX_BACKEND", "fastest")
    with pytest.raises(InputError, match="PTX_BACKEND=fastest"):
        load(models["affine"])
    monkeypatch.delenv("PTX_BACKEND")
    assert load(models["affine"], backend="onnxruntime").backend == "onnxruntime"
    assert calls == [] and not list(models["affine"].parent.glob("*" + choice_cache.CACHE_SUFFIX))


def test_auto_passes_each_backend_its_own_options_and_refuses_typos(models, monkeypatch):
    fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 1.0})
    engine = load(models["affine"], threads=1, spin=False, hint="throughput", precision="f32")
    assert engine.backend == "openvino" and engine.hint == "throughput"
    with pytest.raises(InputError, match="unknown engine option.*hnt") as info:
        load(models["affine"], hnt="latency")
    assert "\n" not in str(info.value) and "hint" in str(info.value)  # names what is taken


def test_one_option_rule_for_every_backend(models, monkeypatch):
    """A named backend takes exactly what it declares; before, ONNX Runtime raised a
    TypeError, OpenVINO silently ignored ``spin`` and TensorRT swallowed anything."""
    fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 1.0})
    for backend, foreign in (("onnxruntime", "hint"), ("openvino", "spin")):
        with pytest.raises(InputError, match=f"option\\(s\\) {foreign} for the {backend} backend"):
            load(models["affine"], backend=backend, **{foreign: "x"})
    assert load(models["affine"], backend="openvino", static_after=None).static_after is None
    with pytest.raises(InputError, match="spin=1: needs bool"):
        load(models["affine"], backend="onnxruntime", spin=1)
    # Under auto an option goes to whichever candidate declares it: TensorRT's contexts
    # is no typo there, and it reaches neither CPU backend.
    engine = load(models["affine"], threads=1, contexts=2)
    assert engine.backend == "openvino" and engine.settings == engine.Options()
    monkeypatch.setenv("PTX_BACKEND", "openvino")  # auto asked, the environment picks
    assert load(models["affine"], spin=False).backend == "openvino"


def test_without_openvino_auto_is_onnxruntime_without_trial(models, monkeypatch):
    import sys

    calls = fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 1.0})
    monkeypatch.setitem(sys.modules, "openvino", None)
    assert select.installed_cpu_backends() == ["onnxruntime"]
    assert load(models["affine"]).backend == "onnxruntime" and calls == []


def test_run_enhance_shows_the_auto_choice(models, photo_folder, tmp_path, monkeypatch):
    from ptx.cli import main

    fake_timings(monkeypatch, {"onnxruntime": 10.0, "openvino": 5.0})
    args = ["run", "enhance", "--model", str(models["affine"]), "--input", str(photo_folder)]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "openvino" in res.stdout  # the summary line names the backend that ran
    assert (
        "backend openvino, precision fp32 (auto: openvino 5.00 ms vs onnxruntime 10.00 ms"
        in res.stderr
    )
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--json", "--no-progress"])
    data = json.loads(res.stdout)
    assert data["backend"] == "openvino" and data["backend_choice"]["cached"] is True
    assert data["images"] == 5

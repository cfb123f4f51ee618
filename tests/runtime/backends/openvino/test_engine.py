"""The OpenVINO engine on tiny onnx.helper models: ORT parity, shapes, options, errors."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from ptx.errors import InputError, MissingDependency, ModelError
from ptx.runtime import load
from ptx.runtime.backends.onnxruntime import OnnxRuntimeEngine

pytest.importorskip("openvino")

from ptx.runtime.backends.openvino import OpenVINOEngine, openvino_version  # noqa: E402


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CACHE_DIR", str(tmp_path / "cache"))


def rel_l2(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def one_op_model(path, op: str, domain: str, shape=(2, 4, 4)):
    """A model of one op on float input x (for ops one backend rejects)."""
    graph = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"], domain=domain)],
        "one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("name", "shape", "tol"),
    [
        ("affine", (2, 3, 16, 24), 1e-4),
        ("swap", (1, 3, 16, 32), 1e-4),
        ("invert", (3, 10, 12, 3), 1e-4),
        ("foreign", (1, 3, 8, 8), 1e-4),
        ("fp16", (2, 3, 8, 8), 1e-3),
    ],
)
def test_parity_with_onnxruntime(models, name, shape, tol):
    ov_engine, ort_engine = OpenVINOEngine(models[name]), OnnxRuntimeEngine(models[name])
    dtype = ort_engine.inputs[0].dtype
    x = np.random.default_rng(1).random(shape).astype(dtype)
    got = ov_engine(x)
    want = ort_engine(x)
    assert list(got) == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape
        assert rel_l2(got[k], want[k]) <= tol
    # Same spec, read from the same metadata; with a spec the IO descriptions match
    # exactly (OpenVINO drops ONNX dim names: without one, open dims are None).
    assert ov_engine.spec == ort_engine.spec
    for got_t, want_t in zip(
        ov_engine.inputs + ov_engine.outputs, ort_engine.inputs + ort_engine.outputs, strict=True
    ):
        assert (got_t.name, got_t.dtype) == (want_t.name, want_t.dtype)
        fixed = [d if isinstance(d, int) else None for d in want_t.shape]
        assert got_t.shape == (want_t.shape if ov_engine.spec else tuple(fixed))
    assert ov_engine.backend == "openvino" and "[openvino]" in ov_engine.describe()


def test_dynamic_batch_and_size_then_static_specialisation(models):
    engine = OpenVINOEngine(models["swap"], static_after=1)
    rng = np.random.default_rng(2)
    for shape in [(1, 3, 8, 16), (4, 3, 24, 8), (1, 3, 8, 16), (2, 3, 16, 16)]:
        x = rng.random(shape, dtype=np.float32)
        np.testing.assert_array_equal(engine(x)["out"], x[:, ::-1])
    # (1,3,8,16) came twice (> static_after=1): it now runs on its own static compilation.
    assert engine.static_shapes == [((1, 3, 8, 16),)]
    assert engine.prepare({"image": (2, 3, 8, 8)})
    x = rng.random((2, 3, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(engine(x)["out"], x[:, ::-1])
    never = OpenVINOEngine(models["swap"], static_after=None)
    for _ in range(4):
        never(x)
    assert never.static_shapes == []


def test_fixed_shape_model_has_nothing_to_specialise(models):
    engine = OpenVINOEngine(models["two"])
    a = np.ones((1, 3, 8, 8), np.float32)
    for _ in range(4):
        np.testing.assert_array_equal(engine(a, a)["out"], 2 * a)
    assert engine.static_shapes == [] and not engine.prepare({"a": (1, 3, 8, 8), "b": (1, 3, 8, 8)})


def test_threads_precision_pinned_and_throughput_hint(models):
    engine = OpenVINOEngine(models["affine"], threads=1)
    assert engine.threads == 1 and engine.inference_precision == "f32"
    busy = OpenVINOEngine(models["affine"], hint="throughput", threads=2)
    xs = [np.full((1, 3, 4, 4), i, np.float32) for i in range(8)]
    with ThreadPoolExecutor(4) as pool:  # concurrent callers each get an infer request
        outs = list(pool.map(lambda x: busy(x)["out"], xs))
    for x, y in zip(xs, outs, strict=True):
        np.testing.assert_allclose(y, x * 0.5 + 0.25)


def test_threads_are_not_pinned_to_cores(models):
    # Pinned, two one-thread engines in two processes land on the same core (ptx batch's
    # actors ran at half speed each): the compiled model must leave placement to the OS.
    engine = OpenVINOEngine(models["affine"], threads=1)
    assert engine._dynamic.compiled.get_property("ENABLE_CPU_PINNING") is False


def test_compiled_model_cache_is_keyed_by_model_and_version(models, tmp_path):
    engine = OpenVINOEngine(models["swap"])
    assert engine.cache_dir.parent == tmp_path / "cache" / "openvino"
    assert engine.cache_dir.name.endswith("-" + openvino_version())
    assert any(engine.cache_dir.iterdir())  # the compiled blob
    other = OpenVINOEngine(models["affine"])
    assert other.cache_dir != engine.cache_dir
    assert OpenVINOEngine(models["affine"], cache=False).cache_dir is None


def test_float64_feed_is_cast_and_bad_feeds_are_one_line(models):
    engine = OpenVINOEngine(models["affine"])
    x = np.random.default_rng(3).random((1, 3, 4, 4))
    np.testing.assert_allclose(engine(x)["out"], x * 0.5 + 0.25, rtol=1e-6)
    with pytest.raises(InputError, match="axis 1 must be 3"):
        engine(np.zeros((1, 4, 4, 4), np.float32))
    with pytest.raises(InputError, match="needs float32, got int64"):
        engine(np.zeros((1, 3, 4, 4), np.int64))
    with pytest.raises(InputError, match="inputs"):
        engine.run({"nope": x})
    engine.close()
    with pytest.raises(ModelError, match="closed"):
        engine(x)


def test_bad_options_and_device(models):
    for kw, msg in [
        ({"hint": "fast"}, "hint 'fast'"),
        ({"precision": "int8"}, "precision 'int8'"),
        ({"threads": 0}, "threads must be"),
        ({"device": "cuda"}, "CPU only"),
    ]:
        with pytest.raises(ModelError, match=msg):
            OpenVINOEngine(models["affine"], **kw)


def test_rejected_op_is_one_line_naming_it(tmp_path):
    path = one_op_model(tmp_path / "inv.onnx", "Inverse", "com.microsoft")
    with pytest.raises(ModelError) as info:
        load(path, backend="openvino")
    text = str(info.value)
    assert "com.microsoft.Inverse" in text and "inv.onnx" in text and "\n" not in text


def test_corrupt_file_is_one_line(models, tmp_path):
    bad = tmp_path / "bad.onnx"
    data = models["swap"].read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a valid ONNX model") as info:
        load(bad, backend="openvino")
    assert "\n" not in str(info.value)


def test_missing_openvino_names_the_extra(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(MissingDependency, match=r"pip install 'ptx\[openvino\]'"):
        load(models["affine"], backend="openvino")
    from ptx.cli import main

    res = CliRunner().invoke(
        main,
        ["run", "enhance", "--model", str(models["affine"]), "--input", str(models["affine"])]
        + ["--out", "unused", "--backend", "openvino"],
    )
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ptx[openvino]" in lines[0] and lines[0].startswith("error:")


def test_read_only_feed_is_copied_not_refused(models):
    """Binary tensors reach a server's engine as np.frombuffer views: read-only buffers."""
    x = np.random.default_rng(3).random((2, 3, 8, 8), dtype=np.float32)
    read_only = np.frombuffer(x.tobytes(), np.float32).reshape(x.shape)
    assert not read_only.flags.writeable
    got = OpenVINOEngine(models["affine"])(read_only)["out"]
    np.testing.assert_allclose(got, x * 0.5 + 0.25, rtol=1e-6)

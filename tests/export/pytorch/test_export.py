"""`ptx export`: real exports of tiny models, checked by onnx and ONNX Runtime against PyTorch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from ptx.cli import main
from ptx.errors import ExportError, InputError, ModelError
from ptx.export.pytorch import parity
from ptx.export.pytorch.export import export_module, export_user_model
from ptx.export.pytorch.factory import InputDecl, build_user_model, load_factory
from ptx.export.pytorch.parity import Tolerance, compare, parity_shapes
from ptx.io import sha256_file
from ptx.spec import spec_from_onnx

FIXTURES = Path(__file__).parent / "fixtures"
CONV = FIXTURES / "conv_model.py"


def _ort(path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def unet(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """make_net exported by file:factory with its own (non-default) weights and dynamic H×W."""
    root = tmp_path_factory.mktemp("unet")
    net = load_factory(f"{CONV}:make_net")()
    torch.manual_seed(7)
    weights = {k: v + 0.3 * torch.randn_like(v) for k, v in net.state_dict().items()}
    save_file(weights, str(root / "w.safetensors"))
    out = root / "nested" / "deeper" / "unet.onnx"  # folders that do not exist yet
    args = ["export", "--model", f"{CONV}:make_net", "--input", "x:1x3x32x32"]
    args += ["--weights", str(root / "w.safetensors"), "--dynamic-hw", "--out", str(out), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return {"out": out, "report": json.loads(result.stdout), "weights": root / "w.safetensors"}


def test_export_writes_one_checked_file(unet: dict) -> None:
    out: Path = unet["out"]
    assert out.is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["unet.onnx"]  # no sidecar, no temp
    onnx.checker.check_model(str(out), full_check=True)
    model = onnx.load(str(out))
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    assert model.opset_import[0].version >= 17
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert unet["report"]["path"] == str(out)


def test_spec_is_embedded_and_names_dynamic_dims(unet: dict) -> None:
    spec = spec_from_onnx(unet["out"])
    assert spec is not None and spec.task == "custom"
    assert [(t.name, t.dtype, t.shape) for t in spec.inputs] == [
        ("x", "float32", ["batch", 3, "height", "width"])
    ]
    assert [t.name for t in spec.outputs] == ["output"]
    assert spec.outputs[0].shape[:2] == ["batch", 3]
    assert spec.source_hash == sha256_file(unet["weights"])
    assert spec.config["factory"].endswith("conv_model.py:make_net")
    assert "torch" in spec.producer and "onnx" in spec.producer
    assert spec.profile is not None and spec.profile.opt["x"] == [1, 3, 32, 32]
    assert spec.profile.min["x"][0] == 1 and spec.profile.max["x"][2:] == [64, 64]
    graph_in = onnx.load(str(unet["out"])).graph.input[0]
    assert [d.dim_param or d.dim_value for d in graph_in.type.tensor_type.shape.dim] == [
        "batch", 3, "height", "width",
    ]  # fmt: skip


@pytest.mark.parametrize("shape", [(3, 3, 24, 40), (2, 3, 50, 18)])
def test_batch_and_hw_really_dynamic_and_weights_loaded(unet: dict, shape: tuple) -> None:
    net = build_user_model(f"{CONV}:make_net", unet["weights"])
    bare = load_factory(f"{CONV}:make_net")()
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    (got,) = _ort(unet["out"], {"x": x})
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
        other = bare(torch.from_numpy(x)).numpy()
    assert got.shape == shape
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(got - other).max() > 1e-3  # the export used the given weights, not the factory's


def test_parity_ran_at_another_shape(unet: dict) -> None:
    rep = unet["report"]["parity"]
    assert rep["passed"]
    assert rep["shapes"]["x"] != rep["example_shapes"]["x"]
    assert rep["shapes"]["x"][0] != 1 and rep["shapes"]["x"][2:] != [32, 32]
    assert 0 <= rep["outputs"][0]["max_abs"] <= 1e-3


def test_module_factory_with_int_label_input(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    monkeypatch.delitem(sys.modules, "label_model", raising=False)
    out = tmp_path / "cond.onnx"
    report = export_user_model(
        "label_model:make_conditional", ["x:2x3x16x16", "label:2:int64"], out
    )
    spec = spec_from_onnx(out)
    assert [(t.name, t.dtype, t.shape) for t in spec.inputs] == [
        ("x", "float32", ["batch", 3, 16, 16]),
        ("label", "int64", ["batch"]),
    ]
    assert len(spec.labels["label"]) == 6  # the Embedding's rows, so labels stay in range
    assert report.parity.passed and report.parity.shapes["label"] == [3]  # traced at 2
    net = load_factory("label_model:make_conditional")()
    x = np.random.default_rng(2).random((4, 3, 16, 16), dtype=np.float32)
    label = np.array([0, 5, 2, 3], dtype=np.int64)
    (got,) = _ort(out, {"x": x, "label": label})
    with torch.no_grad():
        want = net(torch.from_numpy(x), torch.from_numpy(label)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_opset_17_two_outputs_by_torchscript(tmp_path: Path) -> None:
    out = tmp_path / "two.onnx"
    report = export_user_model(f"{CONV}:make_two_heads", ["x:1x3x8x8"], out, opset=17)
    model = onnx.load(str(out))
    assert report.exporter == "torchscript" and model.opset_import[0].version == 17
    assert [o.name for o in model.graph.output] == ["output_0", "output_1"]
    assert [t.shape for t in spec_from_onnx(out).outputs] == [["batch", 3, 8, 8], ["batch"]]
    assert len(report.parity.outputs) == 2 and report.parity.passed


def test_a_divergent_graph_fails_parity_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "div.onnx"
    with pytest.raises(ExportError, match=r"parity FAILED: max abs 0\.1.*no ONNX file was written"):
        export_user_model(f"{CONV}:make_divergent", ["x:1x3x8x8"], out, exporter="torchscript")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("factory", "exporter", "says"),
    [
        ("make_brancher", "dynamo", r"\(dynamo\) failed: ValueError: .*static shape of 8 .*\[3\]"),
        ("make_brancher", "auto", "parity FAILED: max abs 1.*dynamo exporter failed"),
        ("make_baker", "torchscript", "does not run at x=3x3x16x24"),
        ("make_flattener", "dynamo", "the PyTorch module itself fails at x=3x3x16x24"),
    ],
)
def test_shapes_baked_in_are_caught(tmp_path: Path, factory: str, exporter: str, says: str) -> None:
    out = tmp_path / "baked.onnx"
    with pytest.raises(ExportError, match=says) as info:
        export_user_model(
            f"{CONV}:{factory}", ["x:1x3x8x8"], out, dynamic_hw=True, exporter=exporter
        )
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_export_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous export")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(parity, "check_parity", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_user_model(f"{CONV}:make_net", ["x:1x3x8x8"], out, exporter="torchscript")
    assert out.read_bytes() == b"previous export"
    assert _leftovers(tmp_path) == []


def test_fp16_without_the_precision_module_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ptx.export.precision.convert", None)  # import now fails
    out = tmp_path / "m.onnx"
    args = ["export", "--model", f"{CONV}:make_net", "--input", "x:1x3x8x8", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--precision", "fp16"])
    assert result.exit_code == 2
    assert "error: fp16 export needs ptx.export.precision.convert" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_fp16_export_goes_through_convert_fp16(tmp_path: Path) -> None:
    pytest.importorskip(
        "ptx.export.precision.convert", reason="the fp16 engineer's module is not in yet"
    )
    out = tmp_path / "m16.onnx"
    report = export_user_model(
        f"{CONV}:make_net", ["x:1x3x16x16"], out, precision="fp16", exporter="torchscript"
    )
    model = onnx.load(str(out))
    fp16 = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
    assert report.precision == "fp16" and fp16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m16.onnx"]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p / "missing", "not a checkpoint folder"),
        (lambda p: p, "not a ptx checkpoint"),
        (lambda p: _foreign_checkpoint(p), "unknown model family 'stylegan9'"),
    ],
)
def test_checkpoint_of_wrong_or_missing_kind(tmp_path: Path, make, says: str) -> None:
    ckpt = make(tmp_path)
    out = tmp_path / "out" / "m.onnx"
    result = CliRunner().invoke(main, ["export", "--checkpoint", str(ckpt), "--out", str(out)])
    assert result.exit_code == 2
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def _foreign_checkpoint(folder: Path) -> Path:
    from ptx.spec import ModelSpec

    save_file({"w": torch.zeros(1)}, str(folder / "model.safetensors"))
    ModelSpec(task="generate", family="stylegan9").save(folder / "spec.json")
    return folder


def test_checkpoint_errors_raise_ptx_errors(tmp_path: Path) -> None:
    from ptx.export.pytorch.export import export_checkpoint

    with pytest.raises(ModelError):
        export_checkpoint(tmp_path / "nope", tmp_path / "m.onnx")
    with pytest.raises(InputError, match=".onnx suffix"):
        export_module(torch.nn.Identity(), [InputDecl("x", (1, 3))], tmp_path / "m.txt")


# -- the parity arithmetic itself ----------------------------------------------------
def test_compare_passes_equal_and_fails_each_way() -> None:
    tol = Tolerance()
    ref = np.linspace(-1, 1, 64, dtype=np.float32).reshape(4, 16)
    assert compare("y", ref, ref.copy(), tol).passed
    assert compare("y", ref, ref + 1e-6, tol).passed
    worse = compare("y", ref, ref + 0.01, tol)
    assert not worse.passed and worse.max_abs == pytest.approx(0.01, rel=1e-3)
    assert worse.rel_l2 == pytest.approx(0.01 / np.sqrt(np.mean(ref.astype(np.float64) ** 2)), 1e-3)
    assert not compare("y", ref, ref[:2], tol).passed
    nan = ref.copy()
    nan[0, 0] = np.nan
    assert not compare("y", ref, nan, tol).passed
    assert compare("y", nan, nan.copy(), tol).passed


def test_parity_shapes_move_every_dynamic_dim_together() -> None:
    decls = [InputDecl("x", (1, 3, 64, 64)), InputDecl("mask", (1, 1, 64, 64))]
    dyn = {
        "x": {0: "batch", 2: "height", 3: "width"},
        "mask": {0: "batch", 2: "height", 3: "width"},
    }
    shapes = parity_shapes(decls, dyn)
    assert shapes["x"][0] == shapes["mask"][0] == 2
    assert shapes["x"][2:] == shapes["mask"][2:]
    h, w = shapes["x"][2:]
    assert h != 64 and w != 64 and h != w and h % 32 == 0 and w % 32 == 0
    assert parity_shapes(decls, {"x": {}, "mask": {}}) == {
        "x": (1, 3, 64, 64),
        "mask": (1, 1, 64, 64),
    }


def test_nan_weights_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    import torch

    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    with torch.no_grad():
        net.weight[0, 0, 0, 0] = float("nan")
    out = tmp_path / "nan.onnx"
    with pytest.raises(ExportError, match=r"weight 'weight' holds 1 NaN/Inf value\(s\)"):
        export_module(net, [InputDecl("x", (1, 3, 8, 8))], out)
    assert not out.exists() and not list(tmp_path.iterdir())

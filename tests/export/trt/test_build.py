"""ptx build: real TensorRT(-RTX) plans with dynamic batch and H x W, sidecars, bad input."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from ptx.cli import main
from ptx.errors import BuildError, InputError, MissingDependency
from ptx.export.precision.convert import convert_fp16
from ptx.export.trt import build_engine, detect
from ptx.io import sha256_file
from ptx.spec import ImageConvention, ModelSpec, ShapeProfile, TensorSpec, embed_in_onnx

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))
pytestmark = [
    pytest.mark.tensorrt,
    pytest.mark.skipif(
        not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13"
    ),
]
RNG = np.random.default_rng(3)


def conv_model(static: bool = False, profile: bool = True) -> onnx.ModelProto:
    """Fully convolutional enhancer: Conv -> Relu -> Conv, + input (residual)."""
    dims = [1, 3, 32, 32] if static else ["batch", 3, "height", "width"]
    x = h.make_tensor_value_info("image", TP.FLOAT, dims)
    y = h.make_tensor_value_info("out", TP.FLOAT, dims)
    w1 = nh.from_array(RNG.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = nh.from_array(RNG.normal(0, 0.3, (3, 8, 3, 3)).astype(np.float32), "w2")
    nodes = [
        h.make_node("Conv", ["image", "w1"], ["a"], pads=[1, 1, 1, 1], name="conv1"),
        h.make_node("Relu", ["a"], ["b"], name="relu"),
        h.make_node("Conv", ["b", "w2"], ["c"], pads=[1, 1, 1, 1], name="conv2"),
        h.make_node("Add", ["image", "c"], ["out"], name="residual"),
    ]
    model = h.make_model(
        h.make_graph(nodes, "enh", [x], [y], [w1, w2]), opset_imports=[h.make_opsetid("", 17)]
    )
    prof = (
        ShapeProfile(
            min={"image": [1, 3, 16, 16]},
            opt={"image": [2, 3, 32, 32]},
            max={"image": [4, 3, 64, 64]},
        )
        if profile
        else None
    )
    embed_in_onnx(model, ModelSpec(
        task="enhance", inputs=[TensorSpec("image", "float32", dims)],
        outputs=[TensorSpec("out", "float32", dims)], image=ImageConvention(), profile=prof,
    ))  # fmt: skip
    return model


@pytest.fixture(scope="module")
def fp16_onnx(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fp16")
    onnx.save(conv_model(), str(folder / "enh.onnx"))
    convert_fp16(folder / "enh.onnx", folder / "enh16.onnx", samples=2)
    return folder / "enh16.onnx"


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_build_fp16_dynamic_batch_and_hw(fp16_onnx, tmp_path):
    out = tmp_path / "enh.plan"
    report = build_engine(fp16_onnx, out, shapes="image:1x3x16x16,2x3x48x32,4x3x96x64", opt_level=0)
    print(f"build dynamic batch+HxW: {report.seconds}s")
    assert _files(tmp_path) == ["enh.plan", "enh.plan.json"]
    side = json.loads((tmp_path / "enh.plan.json").read_text())
    assert side["flavour"] == report.flavour == detect().name
    assert side["plan_sha256"] == sha256_file(out) and side["plan_bytes"] == out.stat().st_size
    assert side["onnx"]["sha256"] == sha256_file(fp16_onnx)
    assert side["spec"]["precision"] in ("mixed", "fp16") and side["spec"]["task"] == "enhance"
    prof = side["profiles"][0]["image"]
    assert prof["min"] == [1, 3, 16, 16] and prof["max"] == [4, 3, 96, 64]
    # a portrait 1x3x80x48 is not the export example (2x3x32x32) and lies inside the profile
    assert all(
        lo <= d <= hi for lo, d, hi in zip(prof["min"], [1, 3, 80, 48], prof["max"], strict=True)
    )
    assert side["inputs"][0]["shape"] == [-1, 3, -1, -1]
    assert side["build_options"]["strongly_typed"] and side["compute_capabilities"]


def test_profile_from_spec_and_from_static_dims(fp16_onnx, tmp_path):
    report = build_engine(fp16_onnx, tmp_path / "a.plan", opt_level=0)
    assert report.profiles["image"]["source"] == "spec"
    assert report.profiles["image"]["max"] == [4, 3, 64, 64]
    onnx.save(conv_model(static=True, profile=False), str(tmp_path / "s.onnx"))
    static = build_engine(tmp_path / "s.onnx", tmp_path / "s.plan", opt_level=0)
    assert static.profiles["image"]["source"] == "static"
    print(f"build static: {static.seconds}s")


def test_dynamic_dims_without_any_range_are_refused(tmp_path):
    onnx.save(conv_model(profile=False), str(tmp_path / "d.onnx"))
    with pytest.raises(InputError, match="nothing gives their range"):
        build_engine(tmp_path / "d.onnx", tmp_path / "d.plan", opt_level=0)
    assert _files(tmp_path) == ["d.onnx"]


def test_rtx_compute_capability_targets(fp16_onnx, tmp_path):
    if detect().name != "rtx":
        pytest.skip("compute-capability targets are a TensorRT-RTX feature")
    report = build_engine(
        fp16_onnx, tmp_path / "a.plan", opt_level=0, compute_capabilities=["8.6", "sm89"]
    )
    assert report.compute_capabilities == ["8.6", "8.9"]
    with pytest.raises(InputError, match="not one tensorrt_rtx"):
        build_engine(fp16_onnx, tmp_path / "b.plan", compute_capabilities=["9.0"])
    assert not (tmp_path / "b.plan").exists()


def test_timing_cache_is_honoured_or_reported(fp16_onnx, tmp_path):
    cache = tmp_path / "timing.cache"
    report = build_engine(fp16_onnx, tmp_path / "a.plan", opt_level=0, timing_cache=cache)
    if detect().has_timing_cache:
        assert cache.stat().st_size > 0
    else:
        assert not cache.exists() and "ignores timing caches" in report.warnings[0]


def test_mainline_flavour_missing_is_one_clear_error(fp16_onnx, tmp_path):
    if importlib.util.find_spec("tensorrt"):
        pytest.skip("mainline tensorrt is installed here")
    with pytest.raises(MissingDependency, match="tensorrt"):
        build_engine(fp16_onnx, tmp_path / "a.plan", flavour="tensorrt")


def _cli(args):
    return CliRunner().invoke(main, args)


def _one_line_error(result, text):
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and text in errors[0], result.stderr


def test_bad_input_one_line_and_nothing_half_written(fp16_onnx, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "trunc.onnx").write_bytes(fp16_onnx.read_bytes()[:200])
    _one_line_error(
        _cli(["build", "--onnx", str(tmp_path / "trunc.onnx"), "--out", str(out / "t.plan")]),
        "not a readable ONNX model",
    )
    _one_line_error(
        _cli(
            [
                "build",
                "--onnx",
                str(fp16_onnx),
                "--out",
                str(out / "m.plan"),
                "--shapes",
                "image:4x3x64x64,2x3x32x32,1x3x16x16",
            ]
        ),
        "min <= opt <= max",
    )
    _one_line_error(
        _cli(
            [
                "build",
                "--onnx",
                str(fp16_onnx),
                "--out",
                str(out / "m.plan"),
                "--shapes",
                "pixels:1x3x16x16",
            ]
        ),
        "--shapes names ['pixels']",
    )
    _one_line_error(
        _cli(
            [
                "build",
                "--onnx",
                str(fp16_onnx),
                "--out",
                str(out / "m.plan"),
                "--shapes",
                "image:1x4x16x16,1x4x16x16,1x4x16x16",
            ]
        ),
        "fixes it at 3",
    )
    x = h.make_tensor_value_info("x", TP.FLOAT, [1, 3, 8, 8])
    y = h.make_tensor_value_info("y", TP.FLOAT, [1, 3, 8, 8])
    nodes = [
        h.make_node("Relu", ["x"], ["a"], name="relu"),
        h.make_node("GlowFx", ["a"], ["y"], domain="com.acme", name="glow"),
    ]
    custom = h.make_model(
        h.make_graph(nodes, "c", [x], [y]),
        opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.acme", 1)],
    )
    onnx.save(custom, str(tmp_path / "custom.onnx"))
    with pytest.raises(BuildError, match="node 'glow' \\(op GlowFx\\)"):
        build_engine(tmp_path / "custom.onnx", out / "c.plan")
    assert _files(out) == []


def test_cli_build_json(fp16_onnx, tmp_path):
    result = _cli(
        [
            "build",
            "--onnx",
            str(fp16_onnx),
            "--out",
            str(tmp_path / "m.plan"),
            "--opt-level",
            "0",
            "--workspace",
            "256",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["options"]["workspace_mib"] == 256 and report["plan_bytes"] > 0

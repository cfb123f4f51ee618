"""A plan from another TensorRT flavour, version or GPU is refused with one line (no GPU)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

from ptx.errors import ModelError
from ptx.runtime import load
from ptx.runtime.backends.tensorrt.compat import (
    check_gpu,
    check_plan,
    parse_capability,
    targets_allow,
)
from ptx.runtime.cuda import device_count

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None
needs_rtx = pytest.mark.skipif(not HAS_RTX, reason="no TensorRT-RTX: pip install tensorrt-rtx-cu13")
RTX_SIDECAR = {
    "flavour": "rtx",
    "trt_version": "1.7.1.116",
    "compute_capabilities": ["8.0", "8.6", "8.9", "12.0+"],
    "onnx": {"path": "enh.onnx"},
}


def test_parse_capability():
    assert parse_capability("8.6") == ((8, 6), False)
    assert parse_capability("sm_90") == ((9, 0), False)
    assert parse_capability("12.0+") == ((12, 0), True)
    assert parse_capability("this GPU") is None


def test_targets_allow():
    targets = RTX_SIDECAR["compute_capabilities"]
    assert targets_allow(targets, (8, 6)) is True
    assert targets_allow(targets, (12, 1)) is True  # "12.0+"
    assert targets_allow(targets, (9, 0)) is False  # Hopper is not a TensorRT-RTX target
    assert targets_allow(targets, (7, 5)) is False
    assert targets_allow(["this GPU"], (9, 0)) is None  # mainline: TensorRT decides


def test_a_plan_for_another_gpu_is_refused_with_the_rebuild_command():
    check_gpu("m.plan", RTX_SIDECAR, (8, 9), "NVIDIA L4")
    with pytest.raises(ModelError) as err:
        check_gpu("m.plan", RTX_SIDECAR, (9, 0), "NVIDIA H100 80GB HBM3")
    msg = str(err.value)
    assert "\n" not in msg and "NVIDIA H100 80GB HBM3 is 9.0" in msg
    assert "ptx build --onnx enh.onnx --out m.plan --trt rtx --compute-capability 9.0" in msg
    main = {"flavour": "tensorrt", "compute_capabilities": ["8.0"], "onnx": {"path": "e.onnx"}}
    with pytest.raises(ModelError, match="rebuild it on this GPU: ptx build --onnx e.onnx"):
        check_gpu("m.plan", main, (9, 0), "H100")
    check_gpu("m.plan", {**main, "compute_capabilities": ["this GPU"]}, (9, 0), "H100")


@pytest.fixture(scope="module")
def plan(tmp_path_factory, helpers):
    if not HAS_RTX:
        pytest.skip("no TensorRT-RTX builder")
    from ptx.export.trt import build_engine

    folder = tmp_path_factory.mktemp("plan")
    onnx = helpers.affine_model(folder / "affine.onnx")
    build_engine(onnx, folder / "affine.plan", shapes="image:1x3x8x8,2x3x16x16,4x3x32x32")
    return folder / "affine.plan"


def _edit_sidecar(plan, tmp_path, **changes):
    copy = tmp_path / plan.name
    copy.write_bytes(plan.read_bytes())
    side = json.loads(plan.with_name(plan.name + ".json").read_text())
    side.update(changes)
    copy.with_name(copy.name + ".json").write_text(json.dumps(side))
    return copy


@needs_rtx
def test_another_version_is_refused(plan, tmp_path):
    other = _edit_sidecar(plan, tmp_path, trt_version="1.0.0.1")
    with pytest.raises(ModelError) as err:
        load(other)
    msg = str(err.value)
    assert "\n" not in msg and "built by tensorrt_rtx 1.0.0.1" in msg
    assert "rebuild it here with: ptx build --onnx" in msg


@needs_rtx
def test_another_flavour_is_refused(plan, tmp_path):
    other = _edit_sidecar(plan, tmp_path, flavour="tensorrt", trt_version="10.14.1")
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("mainline tensorrt is installed here too")
    with pytest.raises(ModelError, match=r"built by tensorrt 10\.14\.1, but only tensorrt_rtx"):
        load(other)


@needs_rtx
def test_a_plan_that_does_not_match_its_sidecar_is_refused(plan, tmp_path):
    other = _edit_sidecar(plan, tmp_path, plan_sha256="0" * 64)
    with pytest.raises(ModelError, match="does not match its sidecar"):
        load(other)


@needs_rtx
def test_a_bare_plan_is_recognised_by_its_header(plan, tmp_path):
    from ptx.formats.tensorrt import installed

    bare = tmp_path / "bare.plan"
    bare.write_bytes(plan.read_bytes())
    assert check_plan(bare, None, installed()) == "rtx"
    junk = tmp_path / "junk.plan"
    junk.write_bytes(b"not a plan at all")
    with pytest.raises(ModelError, match="not a TensorRT plan"):
        check_plan(junk, None, installed())


@needs_rtx
@pytest.mark.skipif(device_count() > 0, reason="this machine has a GPU")
def test_no_gpu_is_one_clear_line_through_the_cli(plan, tmp_path, helpers):
    from ptx.io import write_image
    from ptx.runtime.cli.run import run

    with pytest.raises(ModelError, match="needs an NVIDIA GPU and driver"):
        load(plan)
    write_image(tmp_path / "a.png", helpers.random_image(8, 8))
    args = ["enhance", "--model", str(plan), "--input", str(tmp_path / "a.png")]
    result = CliRunner().invoke(run, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and "needs an NVIDIA GPU and driver" in lines[-1]
    assert not (tmp_path / "out").exists()

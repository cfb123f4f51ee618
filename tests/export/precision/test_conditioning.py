"""The FP16 check skips samples on which the FP32 model is itself round-off noise.

The CycleGAN root cause: the check's flat black picture sends constant channels into a
stack of InstanceNorms, each dividing last-bit spatial differences by sqrt(var + eps)
(~100x per norm); nine norms in, the FP32 output is noise (FP32 PyTorch vs FP64: rel
err ~1), so FP32 vs FP16 reported rel err 1 on every Conv/Pad/Add downstream.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ptx.errors import ExportError
from ptx.export.precision import check as chk
from ptx.export.precision.convert import convert_fp16
from ptx.export.pytorch.export import export_module
from ptx.export.pytorch.factory import parse_input

CORPUS = Path(__file__).parents[1] / "corpus"


def _generator() -> torch.nn.Module:
    if str(CORPUS) not in sys.path:
        sys.path.insert(0, str(CORPUS))  # the corpus files import corpus_common
    spec = importlib.util.spec_from_file_location("cyclegan", CORPUS / "cyclegan.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(0)
    return mod.Generator(ngf=16, blocks=3).eval()  # PyTorch's default init, as a user has it


@pytest.fixture(scope="module")
def cyclegan_onnx(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cyclegan") / "g.onnx"
    export_module(_generator(), [parse_input("x:1x3x64x64")], out, dynamic_hw=True)
    return out


def test_flat_picture_is_ill_conditioned_for_fp32_itself(cyclegan_onnx):
    inputs = chk.check_inputs(cyclegan_onnx, samples=4)
    assert [s.split(":")[0] for s in inputs.ill_conditioned] == ["sample 1"]  # flat black
    assert len(inputs.feeds) == 4 and all(np.ptp(f["x"]) > 0 for f in inputs.feeds)


def test_cyclegan_fp16_error_is_precision_not_noise(cyclegan_onnx, tmp_path):
    """Before the fix: output rel_l2 0.42, rel err 1 on Conv/Pad/Add (the flat sample)."""
    half = tmp_path / "g16.onnx"
    convert_fp16(cyclegan_onnx, half, check=False)
    result = chk.judge_fp16(half, chk.check_inputs(cyclegan_onnx, samples=4))
    assert result.outputs[0].value < 0.05
    assert all(err < 0.2 for _, _, err in result.worst_nodes)


def test_every_sample_ill_conditioned_is_one_clear_error(cyclegan_onnx, monkeypatch):
    monkeypatch.setattr(chk, "PROBE", 10.0)  # noise larger than the image: nothing is stable
    with pytest.raises(ExportError, match="ill-conditioned on every check input"):
        chk.check_inputs(cyclegan_onnx, samples=1)

"""cutout: export -> FP16 -> strongly typed TensorRT(-RTX) build, like the other families."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ptx.training.common import registry
from ptx.training.common.checkpoint import save_checkpoint
from ptx.training.cutout.model import REFINED_TEST_CONFIG

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13")
@pytest.mark.parametrize("refined", [False, True], ids=["net", "refined"])
def test_fp16_export_and_build(tmp_path: Path, refined: bool) -> None:
    from ptx.export.pytorch.export import export_checkpoint
    from ptx.export.trt import build_engine

    fam = registry.get("cutout")
    cfg = fam.config(**(REFINED_TEST_CONFIG if refined else fam.test_config))
    torch.manual_seed(0)
    model = fam.build(cfg).eval()
    if refined:  # a head that is not zero, so the refiner's path is in the comparison
        torch.nn.init.normal_(model.head.weight, std=0.1)
    ckpt = save_checkpoint(tmp_path / "ckpt", model, fam.make_spec(cfg))
    onnx16 = tmp_path / "cutout.onnx"
    report = export_checkpoint(
        ckpt, onnx16, precision="fp16", exporter="torchscript", opset=17, size=(48, 48)
    )
    assert report.precision == "fp16" and report.fp16.fp16_nodes > 0
    # The FP16 graph runs with float32 IO and stays close to the fp32 module.
    sess = ort.InferenceSession(str(onnx16), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((2, 3, 40, 56), dtype=np.float32)
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert got.dtype == np.float32 and got.shape == (2, 1, 40, 56)
    assert np.abs(got - want).max() < 0.02

    plan = tmp_path / "cutout.plan"
    built = build_engine(onnx16, plan, opt_level=0)
    side = json.loads(plan.with_name(plan.name + ".json").read_text())
    assert plan.stat().st_size == side["plan_bytes"] > 0
    assert side["spec"]["family"] == "cutout" and side["build_options"]["strongly_typed"]
    assert built.profiles

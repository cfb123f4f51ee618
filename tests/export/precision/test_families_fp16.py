"""VAE encoder, decoder and style: export -> FP16 -> strongly typed TensorRT(-RTX) build."""

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

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13")
@pytest.mark.parametrize("name", ["vae-encoder", "vae-decoder", "style"])
def test_fp16_export_and_build(name: str, tmp_path: Path) -> None:
    from ptx.export.pytorch.export import export_checkpoint
    from ptx.export.trt import build_engine

    fam = registry.get(name)
    cfg = fam.config(**fam.test_config)
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "ckpt", fam.build(cfg), fam.make_spec(cfg))
    onnx16 = tmp_path / f"{name}.onnx"
    report = export_checkpoint(
        ckpt, onnx16, precision="fp16", exporter="torchscript", opset=17, size=(16, 16)
    )
    assert report.precision == "fp16" and report.fp16.fp16_nodes > 0
    # The FP16 graph still runs (and its IO stays float32) on ONNX Runtime.
    sess = ort.InferenceSession(str(onnx16), providers=["CPUExecutionProvider"])
    feeds = {
        i.name: np.random.default_rng(0).random([2 if d == "batch" else (16 if isinstance(d, str)
                                                 else d) for d in i.shape], dtype=np.float32)
        for i in sess.get_inputs()
    }  # fmt: skip
    outs = sess.run(None, feeds)
    assert all(o.dtype == np.float32 and np.isfinite(o).all() for o in outs)

    plan = tmp_path / f"{name}.plan"
    built = build_engine(onnx16, plan, opt_level=0)
    side = json.loads(plan.with_name(plan.name + ".json").read_text())
    assert plan.stat().st_size == side["plan_bytes"] > 0
    assert side["spec"]["family"] == name and side["build_options"]["strongly_typed"]
    assert built.profiles

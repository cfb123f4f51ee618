"""The try-on family through export -> FP16 -> a strongly typed TensorRT(-RTX) build."""

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
SIDE = 24


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, torch.nn.Module]:
    from ptx.export.pytorch.export import export_checkpoint

    tmp = tmp_path_factory.mktemp("tryon16")
    fam = registry.get("tryon")
    cfg = fam.config(**fam.test_config)
    torch.manual_seed(0)
    module = fam.build(cfg)
    with torch.no_grad():  # off the bare-mannequin start, so the check sees the network
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape))
    ckpt = save_checkpoint(tmp / "ckpt", module, fam.make_spec(cfg))
    onnx16 = tmp / "tryon16.onnx"
    report = export_checkpoint(
        ckpt, onnx16, precision="fp16", exporter="torchscript", opset=17, size=(SIDE, SIDE)
    )
    assert report.precision == "fp16" and report.fp16.fp16_nodes > 0
    return onnx16, tmp, module.eval()


def test_the_fp16_graph_keeps_float32_io_and_follows_fp32(exported) -> None:
    onnx16, _, module = exported
    sess = ort.InferenceSession(str(onnx16), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["garment", "mannequin"]
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.random((2, 3, 32, 40), dtype=np.float32) for i in sess.get_inputs()}
    (out,) = sess.run(None, feeds)
    assert out.dtype == np.float32 and out.shape == (2, 3, 32, 40)
    with torch.no_grad():
        want = module(*(torch.from_numpy(feeds[k]) for k in ("garment", "mannequin"))).numpy()
    assert np.abs(out - want).max() < 0.02  # FP16 rounding, not another graph


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13")
def test_tensorrt_builds_the_fp16_graph(exported) -> None:
    from ptx.export.trt import build_engine

    onnx16, tmp, _ = exported
    plan = tmp / "tryon.plan"
    built = build_engine(onnx16, plan, opt_level=0)
    side = json.loads(plan.with_name(plan.name + ".json").read_text())
    assert plan.stat().st_size == side["plan_bytes"] > 0
    assert side["spec"]["family"] == "tryon" and side["build_options"]["strongly_typed"]
    assert built.profiles

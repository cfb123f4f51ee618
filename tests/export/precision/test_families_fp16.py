"""Every registered family: export -> FP16 -> parity vs the FP32 module -> strongly typed build.

The families come from the registry (``registry.names()``), so a new family gets this
test for free; what differs per family is data: its FP16 tolerance (FP16_REL_L2, the
relative L2 of each output against the FP32 PyTorch module, about 4x what was measured
on these tiny jittered configs) and, where one is needed, its export settings (EXPORT).
A registered family with no tolerance fails ``test_every_family_has_a_tolerance``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ptx.formats.onnx import graph_io, load_onnx
from ptx.inputs import check_profile, example_inputs, resolve_shapes
from ptx.spec import spec_from_onnx
from ptx.training.common import registry
from ptx.training.common.checkpoint import save_checkpoint
from tests.export.test_families import _perturbed

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))

# Measured (rel. L2, batch 2, 32x32 images, weights jittered with seed 3): cutout 3.5e-5,
# enhance 1.1e-4, gan 2.0e-4, style 5.6e-4, tryon 2.9e-4, vae-decoder 4.9e-6,
# vae-encoder 2.6e-4 (mean) / 1.3e-4 (log-variance).
FP16_REL_L2 = {
    "cutout": 2e-4,
    "enhance": 5e-4,
    "gan": 8e-4,
    "style": 2.5e-3,
    "tryon": 1.2e-3,
    "vae-decoder": 5e-5,
    "vae-encoder": 1e-3,
}
# The TorchScript exporter at opset 17 is the quick one; the GAN's conditional batch norm
# needs the default (dynamo) exporter: TorchScript cannot see its channel count.
EXPORT = {"gan": {}}
QUICK_EXPORT = {"exporter": "torchscript", "opset": 17}
SIDE, BATCH = 32, 2


def test_every_family_has_a_tolerance() -> None:
    missing = sorted(set(registry.names()) - set(FP16_REL_L2))
    assert not missing, f"add an FP16 tolerance for {missing} to FP16_REL_L2"
    stale = sorted(set(FP16_REL_L2) - set(registry.names()))
    assert not stale, f"FP16_REL_L2 names families that are not registered: {stale}"
    assert set(EXPORT) <= set(registry.names())


def relative_l2(got: np.ndarray, want: np.ndarray) -> float:
    """||got - want|| / ||want|| in float64."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-12))


@pytest.mark.tensorrt
@pytest.mark.skipif(not HAS_BUILDER, reason="no TensorRT builder: pip install tensorrt-rtx-cu13")
@pytest.mark.parametrize("name", registry.names())
def test_fp16_export_parity_and_build(name: str, tmp_path: Path) -> None:
    from ptx.export.pytorch.export import export_checkpoint
    from ptx.export.trt import build_engine

    fam = registry.get(name)
    cfg = fam.config(**fam.test_config)
    torch.manual_seed(0)
    module = _perturbed(fam.build(cfg), seed=3)  # near-identity at init: parity trivial
    ckpt = save_checkpoint(tmp_path / "ckpt", module, fam.make_spec(cfg))
    onnx16 = tmp_path / f"{name}.onnx"
    report = export_checkpoint(
        ckpt, onnx16, precision="fp16", size=(16, 16), **EXPORT.get(name, QUICK_EXPORT)
    )
    assert report.precision == "fp16" and report.fp16.fp16_nodes > 0

    # The FP16 graph runs on ONNX Runtime, its IO stays float32, and it matches the FP32
    # module at a shape other than the export's (batch 2, 32x32 images where open).
    model = load_onnx(onnx16, external_data=False)
    inputs, _ = graph_io(model)
    spec = spec_from_onnx(model)
    shapes = resolve_shapes(inputs, None, {}, BATCH, side=SIDE)
    for t in inputs:
        check_profile(spec, t.name, shapes[t.name], name)
    feeds = example_inputs(inputs, spec, shapes, seed=0, pictures="pictures")
    sess = ort.InferenceSession(str(onnx16), providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)
    with torch.no_grad():
        want = module(*[torch.from_numpy(feeds[t.name]) for t in spec.inputs])
    want = [want] if isinstance(want, torch.Tensor) else list(want)
    assert len(got) == len(want) > 0
    for out, g, w in zip(sess.get_outputs(), got, want, strict=True):
        assert g.dtype == np.float32 and np.isfinite(g).all(), out.name
        assert g.shape == tuple(w.shape), out.name
        err = relative_l2(g, w.numpy())
        assert err <= FP16_REL_L2[name], f"{name} output {out.name}: rel. L2 {err:.2e}"
        assert err > 0, f"{name} output {out.name}: FP16 equals FP32 bit for bit (no FP16 ran?)"

    plan = tmp_path / f"{name}.plan"
    built = build_engine(onnx16, plan, opt_level=0)
    side = json.loads(plan.with_name(plan.name + ".json").read_text())
    assert plan.stat().st_size == side["plan_bytes"] > 0
    assert side["spec"]["family"] == name and side["build_options"]["strongly_typed"]
    assert built.profiles

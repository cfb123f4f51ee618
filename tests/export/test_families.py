"""Every registered model family: checkpoint → `ptx export --checkpoint` → parity at a new shape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from ptx.cli import main
from ptx.spec import spec_from_onnx
from ptx.training.common import registry
from ptx.training.common.checkpoint import load_checkpoint, save_checkpoint


def _perturbed(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Jitter every weight: families start near identity, which would make parity trivial."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return module.eval()


@pytest.mark.parametrize("name", registry.names())
def test_family_exports_with_parity(name: str, tmp_path: Path) -> None:
    family = registry.get(name)
    config = family.config(**family.test_config)
    module = _perturbed(family.build(config), seed=3)
    ckpt = save_checkpoint(tmp_path / "ckpt", module, family.make_spec(config))
    out = tmp_path / "models" / f"{name}.onnx"

    result = CliRunner().invoke(
        main, ["export", "--checkpoint", str(ckpt), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    assert report["parity"]["passed"]
    for inp, shape in report["parity"]["shapes"].items():
        assert shape != report["parity"]["example_shapes"][inp], inp
    onnx.checker.check_model(str(out), full_check=True)
    spec = spec_from_onnx(out)
    assert spec.family == name and spec.precision == "fp32"
    assert [t.name for t in spec.inputs] == [t.name for t in family.make_spec(config).inputs]

    # An independent check at a third shape, against the module rebuilt from the checkpoint.
    reloaded, ck_spec = load_checkpoint(ckpt)
    assert spec.source_hash == ck_spec.source_hash
    # The profile's min is a size the family vouches for; else the parity shape with batch + 1.
    shapes = {k: list(v) for k, v in report["parity"]["shapes"].items()}
    for t in spec.inputs:
        if spec.profile is not None and t.name in spec.profile.min:
            shapes[t.name] = list(spec.profile.min[t.name])
        for axis, dim in t.dynamic_dims.items():
            if dim == "batch":
                shapes[t.name][axis] = report["parity"]["shapes"][t.name][axis] + 1
        assert shapes[t.name] != report["parity"]["example_shapes"][t.name]
    ex = [x for x in family.example_inputs(ck_spec, 1, 8, 8)]
    feeds = {}
    rng = np.random.default_rng(5)
    for t, proto in zip(spec.inputs, ex, strict=True):
        if proto.dtype.is_floating_point:
            feeds[t.name] = rng.random(shapes[t.name], dtype=np.float32)
        else:
            high = len(ck_spec.labels.get(t.name, [])) or 2
            feeds[t.name] = rng.integers(0, high, size=shapes[t.name]).astype(np.int64)
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, feeds)
    with torch.no_grad():
        want = reloaded(*[torch.from_numpy(feeds[t.name]) for t in spec.inputs])
    want = [want] if isinstance(want, torch.Tensor) else list(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, w.numpy(), atol=1e-4, rtol=1e-4)

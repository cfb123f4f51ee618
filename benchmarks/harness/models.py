"""Models for the suite: a family's module (random init or a checkpoint) and its ONNX export.

Export goes through ``ptx.export.pytorch.export.export_checkpoint`` (the same path
`ptx export` takes), so the benchmarked ONNX is what users get. The module and
the ONNX come from the same weights, so PyTorch and ONNX Runtime run one model.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptx.errors import require
from ptx.export.pytorch.export import export_checkpoint
from ptx.spec import ModelSpec
from ptx.training.common import registry
from ptx.training.common.checkpoint import load_checkpoint, save_checkpoint


@dataclass
class FamilyModel:
    """One family's module (eval mode), spec and where its weights came from."""

    family: str
    module: Any
    spec: ModelSpec
    weights: str  # "random init (seed N)" or the checkpoint folder


def family_model(
    family: str, checkpoint: str | Path | None = None, config: dict | None = None, seed: int = 0
) -> FamilyModel:
    """The family's module: loaded from ``checkpoint``, else its default config at random init."""
    torch = require("torch", "train", "the benchmark suite")
    if checkpoint is not None:
        module, spec = load_checkpoint(checkpoint, family=family)
        return FamilyModel(family, module.eval(), spec, str(checkpoint))
    fam = registry.get(family)
    cfg = fam.config(**(config or {}))
    torch.manual_seed(seed)
    module = fam.build(cfg).eval()
    return FamilyModel(family, module, fam.make_spec(cfg), f"random init (seed {seed})")


def export_onnx(model: FamilyModel, out: str | Path, size: tuple[int, int] | None = None) -> Path:
    """Export ``model`` to ``out`` the way `ptx export --checkpoint` does (``size``: trace HxW)."""
    with tempfile.TemporaryDirectory(prefix="ptx-bench-ckpt-") as tmp:
        save_checkpoint(tmp, model.module, model.spec)
        export_checkpoint(Path(tmp), Path(out), size=size)
    return Path(out)

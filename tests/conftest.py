"""Shared test configuration: GPU-marked tests skip with a reason where no GPU is present."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

# Tests run on 2 cores next to each other; keep BLAS/ORT from oversubscribing.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Compiled-model caches and kernel caches go to a throw-away folder, never ~/.cache; and
# `auto` means ONNX Runtime unless a test measures the choice itself (tests/runtime/test_select).
os.environ.setdefault("PTX_CACHE_DIR", tempfile.mkdtemp(prefix="ptx-test-cache-"))
os.environ.setdefault("PTX_BACKEND", "onnxruntime")


def _has_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        from cuda.bindings import runtime as cudart  # noqa: F401
    except ImportError:
        try:
            import torch

            return bool(torch.cuda.is_available())
        except ImportError:
            return False
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu`-marked tests with a reason when this machine has no NVIDIA GPU."""
    if _has_gpu():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (none found: no nvidia-smi / CUDA)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def export_tryon(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int, int], Path]:
    """``make(side, seed)``: the real try-on family at ``side``, weights nudged off the identity,
    exported to ONNX (the family starts as the bare mannequin: a test needs it to do something).
    """

    def make(side: int, seed: int) -> Path:
        import torch

        from ptx.export.pytorch.export import export_checkpoint
        from ptx.training.common import registry
        from ptx.training.common.checkpoint import save_checkpoint

        tmp = tmp_path_factory.mktemp(f"tryon{side}-{seed}")
        fam = registry.get("tryon")
        cfg = fam.config(**{**fam.test_config, "side": side})
        torch.manual_seed(seed)
        module = fam.build(cfg)
        with torch.no_grad():
            for p in module.parameters():
                p.add_(0.1 * torch.randn(p.shape))
        ckpt = save_checkpoint(tmp / "ckpt", module, fam.make_spec(cfg))
        out = tmp / "tryon.onnx"
        export_checkpoint(ckpt, out, size=(side, side), exporter="torchscript", opset=17)
        return out

    return make

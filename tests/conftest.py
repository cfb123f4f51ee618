"""Shared test configuration: GPU-marked tests skip with a reason where no GPU is present."""

from __future__ import annotations

import os
import shutil
import tempfile

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

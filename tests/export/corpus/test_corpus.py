"""The public-architecture corpus: export --precision fp16 -> ptx build -> PyTorch parity.

Each architecture is one file here, written from its paper's description with small
widths and fixed-seed, trained-like weights. `python tests/export/corpus/table.py`
prints the same runs as a table.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_harness import arch_files, run  # noqa: E402

HAS_BUILDER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))


@pytest.mark.parametrize("path", arch_files(), ids=lambda p: p.stem)
def test_fp16_export_build_and_parity(path: Path, tmp_path: Path) -> None:
    row = run(path, tmp_path, build=HAS_BUILDER)
    print(" | ".join(row.cells()))
    assert row.passed, f"{row.name}: {row.metric} {row.value:.4g} at {row.check_shape}"
    assert row.plan or not HAS_BUILDER
    assert row.fp16_nodes > 0

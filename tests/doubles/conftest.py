"""The ``gpu_doubles`` fixture: CUDA and TensorRT replaced by strict CPU doubles."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_doubles as _doubles  # noqa: E402


@pytest.fixture
def gpu_doubles():
    """The simulated GPU; ptx.runtime.cuda and TensorRT run on it until the test ends."""
    with _doubles.installed() as gpu:
        yield gpu


@pytest.fixture(scope="session")
def plan(tmp_path_factory):
    """A real TensorRT-RTX plan of a small enhancer, built before any double is installed."""
    from models import build_plan

    return build_plan(tmp_path_factory.mktemp("plan"))

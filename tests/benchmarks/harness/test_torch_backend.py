"""The PyTorch eager baseline: a user factory through the CLI, and a module through the harness."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ptx.benchmarks.harness.backends import TorchBackend
from ptx.benchmarks.harness.measure import bench_engine
from ptx.cli import main
from ptx.errors import ModelError
from ptx.tensors import TensorInfo

torch = pytest.importorskip("torch")

FACTORY = """
import torch


def make():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
"""


def test_torch_factory_via_cli(tmp_path) -> None:
    (tmp_path / "net.py").write_text(FACTORY)
    args = [
        "bench",
        "--torch",
        f"{tmp_path / 'net.py'}:make",
        "--shapes",
        "x:1x3x8x8",
        "--batch",
        "1,2",
        "--duration",
        "0.05",
        "--warmup",
        "0.01",
        "--threads",
        "1",
        "--json",
        "-",
        "--no-iterations",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["label"] for r in doc["runs"]] == ["torch/fp32/cpu"] * 2
    assert doc["runs"][1]["inputs"]["x"]["shape"] == [2, 3, 8, 8]


def test_torch_factory_needs_shapes(tmp_path) -> None:
    (tmp_path / "net.py").write_text(FACTORY)
    result = CliRunner().invoke(main, ["bench", "--torch", f"{tmp_path / 'net.py'}:make"])
    assert result.exit_code == 2 and "--shapes" in result.stderr


class Boom(torch.nn.Module):
    def forward(self, x):
        raise RuntimeError("shape mismatch in layer 3\nmore detail")


def test_a_module_that_fails_is_one_line() -> None:
    info = [TensorInfo("x", np.dtype(np.float32), (None, 3))]
    backend = TorchBackend(Boom(), "boom.py", info, None)
    with pytest.raises(ModelError, match=r"boom.py: PyTorch failed on this model: shape mismatch"):
        bench_engine(backend, shapes=[], batch=1, duration_s=0.01, warmup_s=0)

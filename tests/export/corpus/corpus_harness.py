"""Run one corpus architecture through export --precision fp16 -> build -> PyTorch parity.

The parity check runs the FP16 ONNX with FP16 storage emulated (``emulate_fp16``: ONNX
Runtime's CPU provider would compute most FP16 ops in FP32) at shapes other than the
export example, against the FP32 PyTorch module: PSNR >= 40 dB for image outputs,
relative L2 <= 1e-2 otherwise. The TensorRT(-RTX) plan is built ahead of time from the
same ONNX with the spec's profile (no GPU needed to build one).
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from corpus_common import Arch, picture

from ptx.export.precision.calibrate import session
from ptx.export.precision.check import PSNR_BAR, REL_L2_BAR
from ptx.export.precision.graph import emulate_fp16
from ptx.export.pytorch.export import export_user_model
from ptx.export.pytorch.factory import parse_input
from ptx.export.pytorch.parity import flatten_outputs
from ptx.formats.onnx import load_onnx
from ptx.tensors import INT_DTYPES

DIR = Path(__file__).resolve().parent
HELPERS = ("corpus_", "test_", "table")


def arch_files() -> list[Path]:
    """Every architecture file of the corpus (one per architecture)."""
    return sorted(p for p in DIR.glob("*.py") if not p.name.startswith(HELPERS))


def load(path: Path) -> tuple[Arch, Any]:
    """The ARCH entry of an architecture file, and the module it lives in."""
    if str(DIR) not in sys.path:
        sys.path.insert(0, str(DIR))
    spec = importlib.util.spec_from_file_location(f"corpus_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ARCH, module


def make_inputs(arch: Arch, shapes: dict[str, tuple[int, ...]] | None, seed: int) -> list[Any]:
    """Arrays for the arch's inputs: pictures, 0/1 masks, labels, or normal noise."""
    rng = np.random.default_rng(seed)
    out = []
    for decl in (parse_input(s) for s in arch.inputs):
        shape = tuple((shapes or {}).get(decl.name, decl.shape))
        if decl.name in arch.masks:
            out.append((rng.random(shape) > 0.7).astype(np.float32))
        elif decl.dtype in INT_DTYPES:
            out.append(rng.integers(0, decl.high or 2, shape).astype(decl.dtype))
        elif len(shape) == 4 and shape[1] == 3:
            out.append(picture(shape, *arch.image_range, seed=seed).numpy())
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


@dataclass
class Row:
    """One line of the corpus table."""

    name: str
    fp16_nodes: int
    fp32_nodes: int
    debug_added: int
    metric: str
    value: float
    passed: bool
    plan: bool
    seconds: float
    check_shape: str

    def cells(self) -> list[str]:
        """The table cells."""
        unit = " dB" if self.metric == "psnr" else ""
        return [
            self.name, f"{self.fp16_nodes} / {self.fp32_nodes}", str(self.debug_added),
            f"{self.metric} {self.value:.4g}{unit}", "yes" if self.plan else "no",
            f"{self.seconds:.1f}", self.check_shape,
        ]  # fmt: skip


def parity(arch: Arch, module: torch.nn.Module, onnx_path: Path) -> tuple[str, float]:
    """(metric, value) of the emulated FP16 ONNX against FP32 PyTorch at the check shapes."""
    arrays = make_inputs(arch, arch.check, seed=7)
    with torch.no_grad():
        ref = [t.numpy() for t in flatten_outputs(module(*[torch.from_numpy(a) for a in arrays]))]
    sess = session(emulate_fp16(load_onnx(onnx_path)))
    names = [parse_input(s).name for s in arch.inputs]
    got = sess.run(None, dict(zip(names, arrays, strict=True)))
    r = np.concatenate([x.ravel() for x in ref]).astype(np.float64)
    g = np.concatenate([x.ravel() for x in got]).astype(np.float64)
    if r.shape != g.shape or not np.isfinite(g).all():
        return ("psnr" if arch.span else "rel_l2"), (-math.inf if arch.span else math.inf)
    if arch.span:
        mse = float(np.mean((g - r) ** 2))
        return "psnr", (math.inf if mse == 0 else 10 * math.log10(arch.span**2 / mse))
    return "rel_l2", float(np.linalg.norm(g - r) / (np.linalg.norm(r) + 1e-12))


def run(path: Path, tmp: Path, build: bool = True) -> Row:
    """Export ``path``'s architecture to FP16, build its plan, and check PyTorch parity."""
    arch, mod = load(path)
    start = time.perf_counter()
    out = tmp / f"{path.stem}.onnx"
    report = export_user_model(
        f"{path}:make", list(arch.inputs), out, dynamic_hw=arch.dynamic_hw, precision="fp16"
    )
    fp16 = report.fp16
    metric, value = parity(arch, mod.make(), out)
    passed = value >= PSNR_BAR if metric == "psnr" else value <= REL_L2_BAR
    plan = False
    if build:
        from ptx.export.trt import build_engine

        plan = build_engine(out, tmp / f"{path.stem}.plan", opt_level=0).plan_bytes > 0
    shape = ", ".join("x".join(map(str, s)) for s in arch.check.values())
    return Row(
        arch.name, fp16.fp16_nodes, fp16.fp32_nodes,
        len(fp16.debug["added_fp32"]) if fp16.debug else 0, metric, value, passed, plan,
        time.perf_counter() - start, shape,
    )  # fmt: skip

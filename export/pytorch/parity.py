"""Parity of an exported ONNX model against its PyTorch module on fresh inputs at a new shape.

The check runs at a shape other than the export example's (batch + 1, and new H x W
when those axes are dynamic), so a graph that silently baked the example shape fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import ExportError
from ptx.export.pytorch.factory import InputDecl
from ptx.inputs import example_inputs
from ptx.spec import ModelSpec
from ptx.tensors import format_shape

BATCH = "batch"
MAX_STEP = 32  # H/W grow by a power of two up to this, so stride-2 nets still divide evenly


@dataclass(frozen=True)
class Tolerance:
    """FP32 parity bar: relative L2 error, and max abs error scaled by max(1, max |reference|)."""

    max_abs: float = 1e-3
    rel_l2: float = 1e-4


@dataclass
class OutputParity:
    """Errors of one output."""

    name: str
    shape: list[int]
    max_abs: float
    rel_l2: float
    passed: bool
    note: str = ""


@dataclass
class ParityReport:
    """Per-output errors at the shapes checked, and whether all are within tolerance."""

    shapes: dict[str, list[int]]
    example_shapes: dict[str, list[int]]
    outputs: list[OutputParity] = field(default_factory=list)
    tolerance: Tolerance = field(default_factory=Tolerance)

    @property
    def passed(self) -> bool:
        """True when every output is within tolerance."""
        return all(o.passed for o in self.outputs)

    @property
    def max_abs(self) -> float:
        """The worst max abs error over all outputs."""
        return max((o.max_abs for o in self.outputs), default=0.0)

    @property
    def rel_l2(self) -> float:
        """The worst relative L2 error over all outputs."""
        return max((o.rel_l2 for o in self.outputs), default=0.0)

    def summary(self) -> str:
        """One line: verdict, worst errors, the shapes checked and the example's."""
        shapes = ", ".join(f"{k}={format_shape(v)}" for k, v in self.shapes.items())
        example = ", ".join(f"{k}={format_shape(v)}" for k, v in self.example_shapes.items())
        verdict = "parity ok" if self.passed else "parity FAILED"
        notes = "; ".join(f"{o.name}: {o.note}" for o in self.outputs if o.note)
        return (
            f"{verdict}: max abs {self.max_abs:.3g}, rel L2 {self.rel_l2:.3g} "
            f"(tolerance {self.tolerance.max_abs:g} / {self.tolerance.rel_l2:g}) "
            f"at {shapes} (example {example}) vs PyTorch" + (f"; {notes}" if notes else "")
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (infinite errors become null)."""
        d = asdict(self)
        d["passed"] = self.passed
        for o in d["outputs"]:
            for k in ("max_abs", "rel_l2"):
                o[k] = o[k] if math.isfinite(o[k]) else None
        return d

    def raise_if_failed(self) -> None:
        """ExportError with the numbers when any output is above tolerance."""
        if not self.passed:
            raise ExportError(
                f"{self.summary()}; no ONNX file was written. The exported graph computes "
                "something else than the module: check for ops the exporter lowers differently "
                "or shape arithmetic baked into the graph (try --no-dynamic-batch/--static-hw)"
            )


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _step(v: int, multiple_of: int) -> int:
    """A growth that keeps v's power-of-two divisibility (up to MAX_STEP) and ``multiple_of``."""
    p = 1
    while v % (p * 2) == 0 and p * 2 <= MAX_STEP:
        p *= 2
    return math.lcm(p, max(1, multiple_of))


def parity_shapes(
    decls: Sequence[InputDecl], dynamic: dict[str, dict[int, str]], multiple_of: int = 1
) -> dict[str, tuple[int, ...]]:
    """New shapes for every input: each named dynamic dim moves to one new value for all inputs."""
    values: dict[str, int] = {}
    for d in decls:
        for axis, name in sorted(dynamic.get(d.name, {}).items()):
            if name in values:
                continue
            v = d.shape[axis]
            k = len([n for n in values if n != BATCH]) + 1  # height +1 step, width +2: not square
            values[name] = v + 1 if name == BATCH else v + k * _step(v, multiple_of)
    out = {}
    for d in decls:
        shape = list(d.shape)
        for axis, name in dynamic.get(d.name, {}).items():
            shape[axis] = values[name]
        out[d.name] = tuple(shape)
    return out


def fresh_inputs(
    decls: Sequence[InputDecl],
    shapes: dict[str, tuple[int, ...]],
    spec: ModelSpec | None = None,
    seed: int = 20240607,
) -> list[np.ndarray]:
    """Inputs of the given shapes, in ``decls`` order, under ptx.inputs' one rule.

    Images are uniform random pixels in the spec's convention, other floats standard
    normal, and integers lie below each declaration's ``high`` (else the spec's vocabulary).
    """
    high = {d.name: d.high for d in decls if d.high}
    feeds = example_inputs(decls, spec, shapes, seed, pictures="random", int_high=high)
    return [feeds[d.name] for d in decls]


def compare(name: str, ref: np.ndarray, got: np.ndarray, tol: Tolerance) -> OutputParity:
    """Max abs and relative L2 error of ``got`` against ``ref``."""
    if tuple(ref.shape) != tuple(got.shape):
        return OutputParity(
            name, list(got.shape), math.inf, math.inf, False,
            f"shape {format_shape(got.shape)} != PyTorch {format_shape(ref.shape)}",
        )  # fmt: skip
    r = ref.astype(np.float64)
    g = got.astype(np.float64)
    both_nan = np.isnan(r) & np.isnan(g)
    diff = np.where(both_nan, 0.0, np.abs(g - r))
    if not np.all(np.isfinite(diff)):
        return OutputParity(name, list(got.shape), math.inf, math.inf, False, "NaN/Inf mismatch")
    r = np.where(both_nan, 0.0, r)
    max_abs = float(diff.max(initial=0.0))
    rel_l2 = float(np.linalg.norm(diff) / max(float(np.linalg.norm(r)), 1e-12))
    scale = max(1.0, float(np.abs(r).max(initial=0.0)))
    ok = max_abs <= tol.max_abs * scale and rel_l2 <= tol.rel_l2
    return OutputParity(name, list(got.shape), max_abs, rel_l2, ok)


def flatten_outputs(out: Any) -> list[Any]:
    """Tensors of a (nested) tuple/list/dict output, in order."""
    if isinstance(out, list | tuple):
        return [t for o in out for t in flatten_outputs(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in flatten_outputs(o)]
    return [out]


def torch_outputs(module: Any, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The module's outputs (flattened in order) on NumPy inputs."""
    import torch

    with torch.inference_mode():
        out = module(*[torch.from_numpy(a.copy()) for a in arrays])
    return [t.detach().cpu().numpy() for t in flatten_outputs(out)]


def onnx_outputs(onnx_path: Path, feeds: dict[str, np.ndarray]) -> tuple[list[str], list[Any]]:
    """Output names and values of the ONNX model in ONNX Runtime on the CPU."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # a failing run is reported as one ExportError line, not logged
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    run_opts = ort.RunOptions()
    run_opts.log_severity_level = 4
    wanted = [i.name for i in sess.get_inputs()]
    missing = [n for n in wanted if n not in feeds]
    if missing:
        raise ExportError(f"the exported graph wants inputs {missing} the module was not given")
    # Exporters drop inputs the graph never reads, so feed only the ones it declares.
    values = sess.run(None, {n: feeds[n] for n in wanted}, run_opts)
    return [o.name for o in sess.get_outputs()], values


def check_parity(
    module: Any,
    onnx_path: Path,
    decls: Sequence[InputDecl],
    dynamic: dict[str, dict[int, str]],
    spec: ModelSpec | None = None,
    tolerance: Tolerance | None = None,
    seed: int = 20240607,
) -> ParityReport:
    """Run module and ONNX on the same fresh inputs at a new shape; errors per output."""
    tol = tolerance or Tolerance()
    multiple = spec.image.multiple_of if spec is not None and spec.image is not None else 1
    shapes = parity_shapes(decls, dynamic, multiple)
    arrays = fresh_inputs(decls, shapes, spec, seed)
    report = ParityReport(
        shapes={k: list(v) for k, v in shapes.items()},
        example_shapes={d.name: list(d.shape) for d in decls},
        tolerance=tol,
    )
    where = ", ".join(f"{k}={format_shape(v)}" for k, v in shapes.items())
    try:
        names, got = onnx_outputs(
            onnx_path, {d.name: a for d, a in zip(decls, arrays, strict=True)}
        )
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            f"the exported graph does not run at {where} ({_first(exc)}); it may have baked the "
            "example shape in: export with --no-dynamic-batch/--static-hw, or make the model's "
            "shape arithmetic symbolic"
        ) from exc
    try:
        ref = torch_outputs(module, arrays)
    except Exception as exc:
        raise ExportError(
            f"the PyTorch module itself fails at {where} ({_first(exc)}), so the axes made "
            "dynamic are not free in this model: export with --no-dynamic-batch/--static-hw"
        ) from exc
    if len(ref) != len(got):
        raise ExportError(f"the ONNX graph has {len(got)} outputs, the module returns {len(ref)}")
    report.outputs = [
        compare(n, r, np.asarray(g), tol) for n, r, g in zip(names, ref, got, strict=True)
    ]
    return report

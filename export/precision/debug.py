"""Automatic precision debugging: the few nodes to keep FP32 so a mixed model passes parity.

When the calibrated policy fails the FP16 parity gate, search as ``polygraphy debug
precision`` does: bisect over the FP16 nodes in topological order for the shortest
prefix that, kept FP32, passes (errors compound forwards, so the prefix holds the
culprits), then refine that prefix by dropping halves, quarters, ... of it while the
model still passes, leaving the nodes that matter. Each trial rewrites the FP32 graph
and judges it on the same well-conditioned check inputs (emulated FP16 storage). If
even the model with every node FP32 (only the I/O in its own dtype) fails, nothing can
pass and the search says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ptx.errors import ExportError
from ptx.export.precision.check import CheckInputs, Fp16Check, failure_line, judge_fp16
from ptx.export.precision.graph import float_types, node_precisions, rewrite_fp16

MAX_TRIALS = 40  # refinement stops here; the bisected prefix already passes


@dataclass
class DebugResult:
    """The passing model, the nodes the search kept FP32, its parity and what it cost."""

    model: Any
    added: list[str]
    check: Fp16Check
    trials: int
    casts: int
    before: str = ""
    tried: list[tuple[int, bool]] = field(default_factory=list)  # (FP32 nodes, passed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (without the model)."""
        return {
            "added_fp32": self.added, "trials": self.trials, "before": self.before,
            "after": self.check.summary, "tried": self.tried,
        }  # fmt: skip


def mixed_model(reference: Any, fp32_nodes: set[str], fp16_io: bool) -> tuple[Any, int]:
    """A fresh FP16 rewrite of ``reference`` with ``fp32_nodes`` kept FP32 (and its casts)."""
    import onnx

    half = onnx.ModelProto()
    half.CopyFrom(reference)
    casts = rewrite_fp16(half, set(fp32_nodes), float_types(half), fp16_io)
    return half, casts


class _Search:
    def __init__(self, reference: Any, base: set[str], inputs: CheckInputs, fp16_io: bool):
        self.reference, self.base, self.inputs, self.fp16_io = reference, base, inputs, fp16_io
        self.trials = 0
        self.tried: list[tuple[int, bool]] = []

    def passes(self, extra: list[str]) -> bool:
        half, _ = mixed_model(self.reference, self.base | set(extra), self.fp16_io)
        ok = judge_fp16(half, self.inputs, first_run=False, explain=False).passed
        self.trials += 1
        self.tried.append((len(self.base | set(extra)), ok))
        return ok


def _refine(search: _Search, keep: list[str]) -> list[str]:
    """Drop chunks of ``keep`` (halves, then quarters, ...) while the model still passes."""
    chunk = max(1, len(keep) // 2)
    while chunk >= 1 and search.trials < MAX_TRIALS:
        i = 0
        while i < len(keep) and search.trials < MAX_TRIALS:
            trial = keep[:i] + keep[i + chunk :]
            if trial and trial != keep and search.passes(trial):  # none: the calibrated policy
                keep = trial
            else:
                i += chunk
        if chunk == 1:
            break
        chunk = max(1, chunk // 2)
    return keep


def debug_precision(
    reference: Any, base: dict[str, str], inputs: CheckInputs, fp16_io: bool, before: Fp16Check
) -> DebugResult:
    """Search the FP32 nodes to add to ``base`` so the mixed model passes; raise if none can."""
    first, _ = mixed_model(reference, set(base), fp16_io)
    kinds = node_precisions(first)
    order = [n.name for n in reference.graph.node if kinds.get(n.name) == "fp16"]
    search = _Search(reference, set(base), inputs, fp16_io)
    if not order or not search.passes(order):
        every, _ = mixed_model(reference, {n.name for n in reference.graph.node}, fp16_io)
        result = judge_fp16(every, inputs, first_run=False)
        why = failure_line(result) if not result.passed else "the I/O dtype alone breaks it"
        raise ExportError(
            f"no FP16 model passes: even with every node FP32 the parity gate fails ({why}); "
            "keep this model FP32"
        )
    lo, hi = 0, len(order)  # prefix lo fails (the calibrated policy), prefix hi passes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if search.passes(order[:mid]):
            hi = mid
        else:
            lo = mid
    keep = _refine(search, order[:hi])
    model, casts = mixed_model(reference, set(base) | set(keep), fp16_io)
    check = judge_fp16(model, inputs)
    if not check.passed:  # cannot happen unless the check is not deterministic
        raise ExportError(f"precision debugging did not converge: {failure_line(check)}")
    return DebugResult(
        model=model, added=keep, check=check, trials=search.trials, casts=casts,
        before=before.summary, tried=search.tried,
    )  # fmt: skip

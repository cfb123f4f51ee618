"""Check an FP16 ONNX model against its FP32 reference on fresh inputs.

The FP16 graph is evaluated with FP16 storage emulated (see graph.emulate_fp16),
since ONNX Runtime's CPU provider silently computes most FP16 ops in FP32. Passing means:
the real FP16 graph loads and runs in ONNX Runtime, no NaN or Inf, image outputs at
PSNR >= 40 dB over the output's value range (from the spec's ImageConvention), other
outputs within a relative L2 error of 1e-2. On failure the error names the worst nodes,
found by comparing the tensors both graphs share by name (the FP16 rewrite keeps every
original tensor name).

A sample on which the FP32 model is itself ill-conditioned is not judged: if noise of
1e-5 x max|input| (50x below FP16's rounding of the input) already moves the FP32
output past the bar, FP32 and FP16 are two draws of round-off noise there. The flat
black calibration picture does this to InstanceNorm stacks: each norm divides the
last-bit spatial differences of a constant channel by sqrt(var + eps), ~100x per
layer, so deep in a CycleGAN generator FP32 PyTorch disagrees with FP64 PyTorch by
rel err ~1 as well. Such samples are replaced by further ones and listed in
``ill_conditioned``; check_inputs raises when every sample is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import ExportError
from ptx.export.precision.calibrate import representative_inputs, run_all, session
from ptx.export.precision.graph import FLOAT16, emulate_fp16
from ptx.formats.onnx import load_onnx
from ptx.inputs import is_image
from ptx.spec import ModelSpec, spec_from_onnx

PSNR_BAR = 40.0
REL_L2_BAR = 1e-2
PROBE = 1e-5  # input noise (x max(1, max|input|)) that tests the FP32 model's conditioning
Reference = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass
class OutputCheck:
    """One output's verdict."""

    name: str
    metric: str  # "psnr" (dB, higher is better) or "rel_l2" (lower is better)
    value: float
    bar: float
    nonfinite: int
    passed: bool


@dataclass
class Fp16Check:
    """Every output's verdict and, when anything failed, the worst intermediate tensors."""

    passed: bool
    samples: int
    outputs: list[OutputCheck] = field(default_factory=list)
    worst_nodes: list[tuple[str, str, float]] = field(default_factory=list)  # node, op, rel err
    ill_conditioned: list[str] = field(default_factory=list)  # samples not judged, and why

    @property
    def summary(self) -> str:
        """One line: each output's metric."""
        parts = []
        for o in self.outputs:
            unit = " dB" if o.metric == "psnr" else ""
            bad = f" ({o.nonfinite} NaN/Inf)" if o.nonfinite else ""
            parts.append(f"{o.name} {o.metric} {o.value:.4g}{unit}{bad}")
        skipped = f" ({len(self.ill_conditioned)} ill-conditioned skipped)"
        return ", ".join(parts) + (skipped if self.ill_conditioned else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (with the summary line)."""
        return {**asdict(self), "summary": self.summary}


def _load(model: Path | Any) -> Any:
    return load_onnx(model) if isinstance(model, str | Path) else model


def _image_span(spec: ModelSpec | None, name: str, shape: tuple[int, ...]) -> float | None:
    """The value range of an image output, or None when the output is not an image."""
    if spec is None or spec.image is None or not is_image(shape, spec.image):
        return None
    if spec.outputs and name not in {t.name for t in spec.outputs}:
        return None
    lo, hi = spec.image.bounds()
    return float(np.max(hi - lo))


def _judge(name: str, ref: np.ndarray, got: np.ndarray, span: float | None) -> OutputCheck:
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    nonfinite = int(got.size - np.isfinite(got).sum())
    if ref.shape != got.shape:
        return OutputCheck(name, "rel_l2", float("inf"), REL_L2_BAR, nonfinite, False)
    err = np.nan_to_num(got - ref, nan=1e30, posinf=1e30, neginf=-1e30)
    if span is not None:
        mse = float(np.mean(err**2))
        value = float("inf") if mse == 0 else 10 * np.log10(span**2 / mse)
        return OutputCheck(
            name, "psnr", value, PSNR_BAR, nonfinite, nonfinite == 0 and value >= PSNR_BAR
        )
    value = float(np.linalg.norm(err) / (np.linalg.norm(ref) + 1e-12))
    return OutputCheck(
        name, "rel_l2", value, REL_L2_BAR, nonfinite, nonfinite == 0 and value <= REL_L2_BAR
    )


def worst_nodes(
    fp32: Any, fp16: Any, feeds: list[dict[str, np.ndarray]], top: int = 5, named: Any = None
) -> list[tuple[str, str, float]]:
    """(node, op, relative error) for the tensors that differ most between the two graphs.

    ``named`` is the graph whose nodes name the tensors (default ``fp16``; pass the FP16
    model when ``fp16`` is its emulation).
    """
    producer = {o: (n.name, n.op_type) for n in (named or fp16).graph.node for o in n.output}
    names = [o for n in fp32.graph.node for o in n.output if o in producer]
    errors: dict[str, float] = {}
    for ref, got in zip(run_all(fp32, feeds, names), run_all(fp16, feeds, names), strict=True):
        for name in names:
            if name not in ref or name not in got:
                continue
            a, b = np.asarray(ref[name], np.float64), np.asarray(got[name], np.float64)
            if a.shape != b.shape:
                continue
            if not np.isfinite(b).all() and np.isfinite(a).all():
                rel = float("inf")
            else:
                rel = float(np.linalg.norm(np.nan_to_num(b - a)) / (np.linalg.norm(a) + 1e-6))
            errors[name] = max(errors.get(name, 0.0), rel)
    ranked = sorted(errors.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [(producer[t][0], producer[t][1], e) for t, e in ranked]


@dataclass
class CheckInputs:
    """Well-conditioned check feeds with their FP32 reference outputs, computed once."""

    model: Any
    spec: ModelSpec | None
    feeds: list[dict[str, np.ndarray]]
    expected: list[dict[str, np.ndarray]]
    ill_conditioned: list[str] = field(default_factory=list)


def _probe(feed: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``feed`` with float inputs moved by PROBE x max(1, max|x|) uniform noise."""
    out = {}
    for name, v in feed.items():
        if v.dtype.kind == "f":
            scale = PROBE * max(1.0, float(np.max(np.abs(v))) if v.size else 1.0)
            v = (v + rng.uniform(-scale, scale, v.shape)).astype(v.dtype)
        out[name] = v
    return out


def check_inputs(
    fp32: Path | Any,
    spec: ModelSpec | None = None,
    samples: int = 4,
    seed: int = 1000,
    reference: Reference | None = None,
) -> CheckInputs:
    """``samples`` feeds on which the FP32 model is well-conditioned, and its outputs there."""
    ref_model = _load(fp32)
    spec = spec if spec is not None else spec_from_onnx(ref_model)
    ref_sess = session(ref_model)
    names = [o.name for o in ref_sess.get_outputs()]
    rng = np.random.default_rng(seed)
    result = CheckInputs(ref_model, spec, [], [])
    for k, feed in enumerate(representative_inputs(ref_model, spec, 2 * samples, seed)):
        if len(result.feeds) == samples:
            break
        base = dict(zip(names, ref_sess.run(names, feed), strict=True))
        broken = [n for n in names if not np.isfinite(base[n]).all()]
        if broken:
            raise ExportError(
                f"the FP32 model outputs NaN/Inf in '{broken[0]}' on check input {k}, before "
                "any FP16 conversion: fix the FP32 model first"
            )
        moved = dict(zip(names, ref_sess.run(names, _probe(feed, rng)), strict=True))
        shaky = [
            v for n in names
            if not (v := _judge(n, base[n], moved[n], _image_span(spec, n, base[n].shape))).passed
        ]  # fmt: skip
        if shaky:
            v = shaky[0]
            result.ill_conditioned.append(
                f"sample {k}: FP32 {v.name} moves to {v.metric} {v.value:.3g} under "
                f"{PROBE:g} input noise"
            )
            continue
        result.feeds.append(feed)
        result.expected.append(reference(feed) if reference else base)
    if not result.feeds:
        raise ExportError(
            f"the FP32 model is ill-conditioned on every check input ({result.ill_conditioned[0]}"
            "): its own round-off decides the output, so no FP16 parity can be shown"
        )
    return result


def judge_fp16(
    half: Any, inputs: CheckInputs, first_run: bool = True, explain: bool = True
) -> Fp16Check:
    """Judge an FP16 model (emulated FP16 storage) against ``inputs``; never raises on failure.

    ``first_run`` also runs the real FP16 graph once; ``explain`` ranks the worst nodes
    of a failing model (a run with every tensor exposed).
    """
    half = _load(half)
    emulated = emulate_fp16(half)
    emu_sess = session(emulated)
    out_names = [o.name for o in emu_sess.get_outputs()]
    fp16_inputs = {i.name for i in half.graph.input if i.type.tensor_type.elem_type == FLOAT16}
    if first_run:  # the real FP16 graph must load and run in ONNX Runtime too
        feed = inputs.feeds[0]
        session(half).run(
            None, {n: v.astype(np.float16) if n in fp16_inputs else v for n, v in feed.items()}
        )
    collected: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in out_names}
    for feed, expected in zip(inputs.feeds, inputs.expected, strict=True):
        emu_feed = {
            n: v.astype(np.float16).astype(np.float32) if n in fp16_inputs else v
            for n, v in feed.items()
        }
        got = dict(zip(out_names, emu_sess.run(out_names, emu_feed), strict=True))
        for name in out_names:
            collected[name].append((np.asarray(expected[name]), got[name]))
    verdicts = []
    for name, pairs in collected.items():
        ref = np.concatenate([p[0].ravel() for p in pairs])
        got = np.concatenate([p[1].ravel() for p in pairs])
        verdicts.append(_judge(name, ref, got, _image_span(inputs.spec, name, pairs[0][0].shape)))
    result = Fp16Check(
        all(v.passed for v in verdicts), len(inputs.feeds), verdicts,
        ill_conditioned=list(inputs.ill_conditioned),
    )  # fmt: skip
    if not result.passed and explain:
        result.worst_nodes = worst_nodes(inputs.model, emulated, inputs.feeds[:2], named=half)
    return result


def failure_line(result: Fp16Check) -> str:
    """One line naming the failing outputs and the worst nodes."""
    worst = "; ".join(f"{n} ({op}) rel err {e:.3g}" for n, op, e in result.worst_nodes)
    return (
        f"FP16 parity check failed: {result.summary} (need PSNR >= {PSNR_BAR:g} dB, "
        f"rel L2 <= {REL_L2_BAR:g}, no NaN/Inf); worst nodes: {worst}"
    )


def check_fp16(
    fp32: Path | Any,
    fp16: Path | Any,
    spec: ModelSpec | None = None,
    samples: int = 4,
    seed: int = 1000,
    reference: Reference | None = None,
    remove_on_fail: bool = False,
) -> Fp16Check:
    """Compare ``fp16`` with the FP32 model (or ``reference``, e.g. torch) on fresh inputs.

    Raises ExportError naming the failing outputs and the worst nodes; with
    ``remove_on_fail`` a failed FP16 file is deleted so it cannot be used by mistake.
    """
    inputs = check_inputs(fp32, spec, samples, seed, reference)
    result = judge_fp16(fp16, inputs)
    if not result.passed:
        if remove_on_fail and isinstance(fp16, str | Path):
            Path(fp16).unlink(missing_ok=True)
        raise ExportError(
            f"{failure_line(result)}; keep them FP32 with --keep-fp32 NODE or lower --safe-bound"
        )
    return result

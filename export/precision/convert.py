"""Calibrated mixed-precision FP16: which nodes may run in half precision, and the conversion.

Run the FP32 model in ONNX Runtime on representative inputs with every tensor exposed,
record each node's largest |activation|, and keep FP32 (behind Casts):

- nodes that read or write a value above ``safe_bound`` (default 8192: FP16's largest
  finite value is 65504, so this leaves 8x headroom over what calibration saw);
- pooling (GlobalAveragePool, AveragePool) whose extent x max|input| exceeds the bound:
  a backend summing in FP16 overflows even though the mean it returns is small, and
  calibration cannot see that partial sum;
- op types whose danger lies outside any calibration sample (FP32_OPS): Exp and Pow
  grow faster than the headroom, Log/Reciprocal/Sqrt of values near zero underflow in
  FP16 (flat white product backgrounds have zero variance);
- Sin/Cos/Tan whose calibrated argument reaches 16 (FP16 steps of 1/64 rad and more,
  e.g. a diffusion timestep embedding), and the node that makes that argument;
- statistics (STATS_OPS): the normalisation layers (Instance/Group/Layer), Softmax and
  ReduceMean/ReduceSum run in FP32 behind Casts, which is what TensorRT does for them in
  a strongly typed FP16 network (its norm and reduce kernels accumulate in FP32): a
  mean or variance of FP16 values loses the small differences a norm then amplifies.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptx.errors import ExportError, InputError, require
from ptx.export.precision.calibrate import representative_inputs, run_all
from ptx.export.precision.check import check_inputs, failure_line, judge_fp16
from ptx.export.precision.debug import debug_precision, mixed_model
from ptx.export.precision.graph import (
    FLOAT16,
    constants_to_initializers,
    float_types,
    name_nodes,
    node_precisions,
)
from ptx.formats.onnx import load_onnx
from ptx.io import atomic_path
from ptx.spec import embed_in_onnx, producer_versions, spec_from_onnx

DEFAULT_SAFE_BOUND = 8192.0
FP32_OPS = frozenset(
    {
        "Exp", "Pow", "Log", "Reciprocal", "Sqrt", "Softplus",
        "ReduceSumSquare", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceProd",
        "CumSum", "Range", "EyeLike", "RandomNormal", "RandomUniform",
        "RandomNormalLike", "RandomUniformLike", "Multinomial",
    }
)  # fmt: skip
STATS_OPS = frozenset(
    {
        "InstanceNormalization", "LayerNormalization", "GroupNormalization",
        "Softmax", "LogSoftmax", "ReduceMean", "ReduceSum",
    }
)  # fmt: skip
ACCUMULATING_OPS = frozenset({"GlobalAveragePool", "AveragePool"})
PERIODIC_OPS = frozenset({"Sin", "Cos", "Tan"})
PERIODIC_BOUND = 16.0  # FP16 steps 2^-6 rad from here up
AUTOCAST = ("ptx", "modelopt")


@dataclass
class Fp16Report:
    """What convert_fp16 did: node counts, why each FP32 node stayed FP32, the parity check."""

    src: str
    dst: str
    autocast: str
    precision: str
    io_dtype: str
    nodes: int
    fp16_nodes: int
    fp32_nodes: int
    casts_added: int
    samples: int
    calibration: str
    safe_bound: float
    kept_fp32: dict[str, str] = field(default_factory=dict)  # node -> reason
    check: dict[str, Any] | None = None
    debug: dict[str, Any] | None = None  # what precision debugging added, when it ran
    node_table: list[dict[str, Any]] = field(default_factory=list)  # per node, see node_table
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    def table(self) -> str:
        """The per-node table (precision, calibrated range, why FP32) as aligned text."""
        return format_node_table(self.node_table)

    def summary(self) -> str:
        """One line for people."""
        line = (
            f"{self.dst}: {self.fp16_nodes} FP16 / {self.fp32_nodes} FP32 nodes "
            f"({self.casts_added} casts), IO {self.io_dtype}, {self.precision}"
        )
        if self.check:
            line += f"; parity {self.check['summary']}"
        if self.debug:
            line += (
                f"; precision debugging kept {len(self.debug['added_fp32'])} more node(s) "
                f"FP32 in {self.debug['trials']} trials (calibrated policy: {self.debug['before']})"
            )
        return line


def activation_stats(
    model: Any, feeds: list[dict[str, np.ndarray]]
) -> dict[str, tuple[float, int]]:
    """Tensor name -> (max |value| over all feeds, element count) for every float tensor."""
    from onnx import numpy_helper

    stats: dict[str, tuple[float, int]] = {}

    def note(name: str, arr: np.ndarray) -> None:
        if arr.dtype.kind != "f" or arr.size == 0:
            return
        with np.errstate(invalid="ignore"):
            peak = float(np.max(np.abs(arr))) if np.isfinite(arr).all() else float("inf")
        old = stats.get(name, (0.0, 0))
        stats[name] = (max(old[0], peak), max(old[1], arr.size))

    for t in model.graph.initializer:
        note(t.name, numpy_helper.to_array(t))
    from tqdm import tqdm

    runs = run_all(model, feeds)
    for feed, tensors in tqdm(
        zip(feeds, runs, strict=True), total=len(feeds), desc="calibrate", unit="input", leave=False
    ):
        for name, arr in {**feed, **tensors}.items():
            note(name, np.asarray(arr))
    return stats


def plan_fp32_nodes(
    model: Any,
    stats: dict[str, tuple[float, int]],
    safe_bound: float = DEFAULT_SAFE_BOUND,
    block_ops: frozenset[str] | set[str] = FP32_OPS | STATS_OPS,
    block_nodes: set[str] | None = None,
) -> dict[str, str]:
    """Node name -> why it stays FP32 (ops, calibrated ranges, reductions, user's list)."""
    keep: dict[str, str] = {}
    for node in model.graph.node:
        if node.name in (block_nodes or set()):
            keep[node.name] = "kept FP32 on request"
        elif node.op_type in block_ops and node.op_type in STATS_OPS:
            keep[node.name] = f"{node.op_type} accumulates statistics (FP32, as in TensorRT)"
        elif node.op_type in block_ops:
            keep[node.name] = f"{node.op_type} is overflow/underflow-prone"
        else:
            seen = [stats[t] for t in [*node.input, *node.output] if t in stats]
            peak = max((s[0] for s in seen), default=0.0)
            if peak > safe_bound:
                keep[node.name] = f"max |activation| {peak:.4g} > {safe_bound:g}"
            elif node.op_type in ACCUMULATING_OPS and node.input[0] in stats:
                out = stats.get(node.output[0], (0.0, 1))
                peak_in, n_in = stats[node.input[0]]
                extent = max(1, n_in // max(1, out[1]))
                if extent * peak_in > safe_bound:
                    keep[node.name] = (
                        f"sums {extent} values up to {peak_in:.3g} "
                        f"(> {safe_bound:g} if summed in FP16)"
                    )
    _keep_periodic(model, stats, keep)
    return keep


def _keep_periodic(model: Any, stats: dict[str, tuple[float, int]], keep: dict[str, str]) -> None:
    """Sin/Cos of large arguments (timestep embeddings) stay FP32, with their argument's maker.

    FP16 spaces values 2^(e - 10) apart: at |x| = 989 that is 0.5 rad, so sin(x) is noise
    although every value is far inside the range. The producer of the argument stays FP32
    too, or the argument is rounded before it reaches the FP32 op.
    """
    producer = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        peak = stats.get(node.input[0], (0.0, 0))[0] if node.input else 0.0
        if node.op_type not in PERIODIC_OPS or peak < PERIODIC_BOUND or node.name in keep:
            continue
        step = 2.0 ** (np.floor(np.log2(peak)) - 10)
        keep[node.name] = f"{node.op_type} of |x| up to {peak:.4g}: FP16 steps {step:g} rad there"
        maker = producer.get(node.input[0])
        if maker is not None and maker.name not in keep:
            keep[maker.name] = f"makes the {node.op_type} argument of '{node.name}' ({peak:.4g})"


def node_table(
    model: Any, kinds: dict[str, str], stats: dict[str, tuple[float, int]], keep: dict[str, str]
) -> list[dict[str, Any]]:
    """Per node of ``model``: op, precision in the result, calibrated max |in| / |out|, why FP32."""

    def peak(names: Any) -> float | None:
        seen = [stats[t][0] for t in names if t in stats]
        return max(seen) if seen else None

    return [
        {
            "node": n.name,
            "op": n.op_type,
            "precision": kinds.get(n.name, "other"),
            "max_abs_in": peak(n.input),
            "max_abs_out": peak(n.output),
            "why_fp32": keep.get(n.name, ""),
        }  # fmt: skip
        for n in model.graph.node
    ]


def format_node_table(rows: list[dict[str, Any]]) -> str:
    """The node table as aligned text: node, op, precision, calibrated range, why FP32."""

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.4g}"

    cells = [("node", "op", "precision", "max|in|", "max|out|", "why FP32")] + [
        (r["node"], r["op"], r["precision"], num(r["max_abs_in"]), num(r["max_abs_out"]),
         r["why_fp32"])
        for r in rows
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    return "\n".join(
        ("  ".join(c[i].ljust(widths[i]) for i in range(5)) + "  " + c[5]).rstrip() for c in cells
    )


def _refuse_nan_weights(model: Any, src: Path) -> None:
    """One clear error when a weight holds NaN: the FP32 model is broken before any FP16."""
    from onnx import numpy_helper

    for t in model.graph.initializer:
        if t.data_type in (1, 11):  # float32, float64
            arr = numpy_helper.to_array(t)
            bad = int(np.isnan(arr).sum())
            if bad:
                raise ExportError(
                    f"weight '{t.name}' holds {bad} NaN value(s): the FP32 model is broken "
                    f"before any FP16 conversion (re-export {src.name} from a healthy checkpoint)"
                )


def _with_spec(model: Any, fp16_io: bool, precision: str) -> None:
    """Re-embed the ModelSpec (if any) with the new precision and IO dtypes."""
    spec = spec_from_onnx(model)
    if spec is None:
        return
    spec.precision = precision
    if fp16_io:
        for t in [*spec.inputs, *spec.outputs]:
            if t.dtype == "float32":
                t.dtype = "float16"
    spec.producer.update(producer_versions("onnx", "onnxconverter-common", "onnxruntime"))
    embed_in_onnx(model, spec)


def _modelopt_convert(model: Any, keep_io_types: bool) -> Any:
    autocast = require("modelopt.onnx.autocast", "modelopt", "--autocast modelopt")
    return autocast.convert_to_mixed_precision(
        onnx_path=model, low_precision_type="fp16", keep_io_types=keep_io_types
    )


def convert_fp16(
    src: Path,
    dst: Path,
    calib: Path | None = None,
    fp16_io: bool = False,
    safe_bound: float = DEFAULT_SAFE_BOUND,
    block_ops: frozenset[str] | set[str] = FP32_OPS | STATS_OPS,
    samples: int = 8,
    autocast: str = "ptx",
    block_nodes: set[str] | None = None,
    check: bool = True,
    seed: int = 0,
    auto_debug: bool = True,
) -> Fp16Report:
    """Write a calibrated mixed-precision FP16 copy of ``src`` to ``dst`` (checked, atomic).

    When the calibrated policy fails the parity gate, ``auto_debug`` searches the nodes
    to keep FP32 as well (ptx.export.precision.debug); nothing is written on failure.
    """
    import onnx

    if autocast not in AUTOCAST:
        raise InputError(f"--autocast {autocast!r}: use one of {', '.join(AUTOCAST)}")
    if samples < 1:
        raise InputError(f"samples must be at least 1, got {samples}")
    start = time.perf_counter()
    src, dst = Path(src), Path(dst)
    model = load_onnx(src)
    spec = spec_from_onnx(model)
    types = float_types(model)
    if any(code == FLOAT16 for code in types.values()):
        raise ExportError(f"{src}: already has FP16 tensors; convert the FP32 model instead")
    name_nodes(model)
    constants_to_initializers(model)
    _refuse_nan_weights(model, src)
    reference = onnx.ModelProto()
    reference.CopyFrom(model)
    stats: dict[str, tuple[float, int]] = {}
    if autocast == "modelopt":
        half, keep, casts, stats_n = _modelopt_convert(model, not fp16_io), {}, 0, 0
    else:
        feeds = representative_inputs(model, spec, samples, seed, calib)
        stats = activation_stats(model, feeds)
        keep = plan_fp32_nodes(model, stats, safe_bound, set(block_ops), block_nodes)
        (half, casts), stats_n = mixed_model(reference, set(keep), fp16_io), len(feeds)
    result, debug = None, None
    if check:
        inputs = check_inputs(reference, spec, seed=seed + 1000)
        result = judge_fp16(half, inputs, explain=not auto_debug)
        if not result.passed and auto_debug and autocast == "ptx":
            found = debug_precision(reference, keep, inputs, fp16_io, result)
            half, casts, result, debug = found.model, found.casts, found.check, found.to_dict()
            keep.update(dict.fromkeys(found.added, "precision debugging: needed for parity"))
        if not result.passed:
            raise ExportError(
                f"{failure_line(result)}; keep them FP32 with --keep-fp32 NODE or lower "
                "--safe-bound"
            )
    kinds = node_precisions(half)
    fp16_n = sum(1 for k in kinds.values() if k == "fp16")
    fp32_n = sum(1 for k in kinds.values() if k == "fp32")
    precision = "mixed" if fp32_n else "fp16"
    _with_spec(half, fp16_io, precision)
    report = Fp16Report(
        src=str(src), dst=str(dst), autocast=autocast, precision=precision,
        io_dtype="float16" if fp16_io else "float32", nodes=len(half.graph.node),
        fp16_nodes=fp16_n, fp32_nodes=fp32_n, casts_added=casts, samples=stats_n,
        calibration=str(calib) if calib else ("spec" if spec else "random"),
        safe_bound=safe_bound, kept_fp32=keep, check=result.to_dict() if result else None,
        debug=debug, node_table=node_table(reference, kinds, stats, keep),
    )  # fmt: skip
    with atomic_path(dst) as tmp:
        onnx.save(half, str(tmp))
    report.seconds = round(time.perf_counter() - start, 3)
    return report

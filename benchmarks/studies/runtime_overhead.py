"""Runtime overhead (issue 2): ptx.runtime vs a bare InferenceSession, and ONNX Runtime vs PyTorch.

On one model and one input per batch size, three callables are timed side by
side: ``Engine.run`` of ptx.runtime, a bare ``onnxruntime.InferenceSession.run``
built with the very same SessionOptions (copied from the engine's session),
and PyTorch eager on the same weights. Rounds are interleaved and the order
rotates each round, so drift (other jobs, thermal, turbo) hits every side
alike. Medians of the per-call times give the ratios; targets are reported, not
asserted.

    python -m ptx.benchmarks.studies.runtime_overhead [--checkpoint DIR] [--size 256] [--batch 1,8]
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ptx import runtime
from ptx.benchmarks.harness import stats
from ptx.benchmarks.harness.env import host_name, usable_cores
from ptx.benchmarks.harness.inputs import parse_batches, sized_shapes
from ptx.benchmarks.harness.models import export_onnx, family_model
from ptx.benchmarks.harness.report import results_dir
from ptx.benchmarks.harness.script import run_script
from ptx.inputs import example_inputs
from ptx.io import atomic_write_text
from ptx.timing import time_interleaved

TARGET = 1.05  # ptx.runtime / bare session, issue 2
MIN_ROUNDS = 20  # calls per side at least, however short the budget: a median needs samples
MAX_ROUNDS = 100_000  # the budget ends the rounds, not this


def per_call_ms(
    sides: dict[str, Callable[[], object]], seconds: float, **timer: Any
) -> dict[str, list[float]]:
    """Per-call times (ms) of each side from ptx.timing's interleaved timer.

    One untimed warm call each, then rounds in rotating order (one call per side,
    each from a quiet process) for ``seconds``, at least ``MIN_ROUNDS`` of them.
    """
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    kw = {"budget_s": seconds, "min_rounds": MIN_ROUNDS, "max_rounds": MAX_ROUNDS, **timer}
    times = time_interleaved(sides, warmup=True, **kw)
    return {name: [t * 1e3 for t in ts] for name, ts in times.items()}


def overhead_rows(times_by_batch: dict[int, dict[str, list[float]]]) -> list[dict]:
    """Medians and ratios per batch: ptx/bare (target <= 1.05) and onnxruntime/torch.

    ``ptx_runtime`` and ``bare_session`` come from one interleaved pair; ``ort`` and
    ``torch`` (optional) from a second pair, so the slow PyTorch side does not eat
    the samples of the overhead ratio.
    """
    rows = []
    for batch, times in times_by_batch.items():
        med = {k: stats.median(v) for k, v in times.items()}
        row = {
            "batch": batch,
            "ptx_runtime_ms": med["ptx_runtime"],
            "bare_session_ms": med["bare_session"],
            "ptx_over_bare": med["ptx_runtime"] / med["bare_session"],
            # minimum: the least noise-exposed estimate on a shared machine
            "ptx_over_bare_min": min(times["ptx_runtime"]) / min(times["bare_session"]),
            "calls": {k: len(v) for k, v in times.items()},
            "cov": {k: stats.cov(v) for k, v in times.items()},
        }
        if "torch" in med:
            row["ort_ms"] = med["ort"]
            row["torch_ms"] = med["torch"]
            row["ort_over_torch"] = med["ort"] / med["torch"]
        row["meets_target"] = row["ptx_over_bare"] <= TARGET
        rows.append(row)
    return rows


def measure(
    onnx_path: str | Path,
    module: object | None = None,
    batches: tuple[int, ...] = (1, 8),
    size: int = 256,
    seconds: float = 10.0,
    threads: int | None = None,
) -> dict:
    """Per batch: ptx.runtime vs a bare session, then (given ``module``) ORT vs PyTorch.

    Each pair is interleaved for ``seconds``.
    """
    import onnxruntime as ort

    engine = runtime.load(onnx_path, threads=threads, backend="onnxruntime")
    session = engine.session
    bare = ort.InferenceSession(
        str(onnx_path), session.get_session_options(), providers=session.get_providers()
    )
    n_threads = session.get_session_options().intra_op_num_threads
    if module is not None:
        import torch

        torch.set_num_threads(n_threads or usable_cores())
    by_batch = {}
    for batch in batches:
        infos = engine.inputs
        dims = sized_shapes(infos, engine.spec, batch, size, where=str(onnx_path))
        feeds = example_inputs(infos, engine.spec, dims)
        pair = {
            "ptx_runtime": lambda f=feeds: engine.run(f),
            "bare_session": lambda f=feeds: bare.run(None, f),
        }
        times = per_call_ms(pair, seconds)
        if module is not None:
            args = tuple(torch.from_numpy(feeds[t.name]) for t in infos)
            pair = {"ort": pair["bare_session"], "torch": _torch_call(torch, module, args)}
            times.update(per_call_ms(pair, seconds))
        by_batch[batch] = times
    return {
        "model": str(onnx_path),
        "size": size,
        "threads": n_threads,
        "session_options": _options(session.get_session_options()),
        "target": TARGET,
        "rows": overhead_rows(by_batch),
    }


def _torch_call(torch, module, args) -> Callable[[], object]:
    def call():
        with torch.inference_mode():
            return module(*args)

    return call


def _options(opts) -> dict:
    return {
        "intra_op_num_threads": opts.intra_op_num_threads,
        "inter_op_num_threads": opts.inter_op_num_threads,
        "graph_optimization_level": str(opts.graph_optimization_level),
        "execution_mode": str(opts.execution_mode),
    }


def markdown(result: dict) -> str:
    """The overhead table as markdown."""
    lines = [
        f"Model `{Path(result['model']).name}`, {result['size']}x{result['size']} images, "
        f"{result['threads']} intra-op threads, same SessionOptions on both ONNX Runtime sides. "
        "Medians of per-call times from two interleaved pairs per batch: ptx.runtime vs a bare "
        "InferenceSession, then the bare session vs PyTorch eager (same weights, same input).",
        "",
        "| batch | ptx.runtime ms | bare session ms | ptx / bare (target <= 1.05) | "
        "ptx / bare of minima | ONNX Runtime ms | PyTorch eager ms | ONNX Runtime / PyTorch "
        "| calls |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        vs = [f"{r[k]:.2f}" if k in r else "-" for k in ("ort_ms", "torch_ms")]
        ratio = f"{r['ort_over_torch']:.3f}" if "ort_over_torch" in r else "-"
        calls = ", ".join(f"{k} {v}" for k, v in r["calls"].items())
        lines.append(
            f"| {r['batch']} | {r['ptx_runtime_ms']:.2f} | {r['bare_session_ms']:.2f} | "
            f"{r['ptx_over_bare']:.3f} {'(ok)' if r['meets_target'] else '(over)'} | "
            f"{r['ptx_over_bare_min']:.3f} | {vs[0]} | {vs[1]} | {ratio} | "
            f"{calls} |"
        )
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--onnx", "onnx_path", help="ONNX model to measure (default: export the family).")
@click.option("--checkpoint", help="Trained checkpoint to export and compare with PyTorch.")
@click.option("--family", default="enhance", show_default=True)
@click.option("--size", type=int, default=256, show_default=True, help="Image side in pixels.")
@click.option("--batch", default="1,8", show_default=True)
@click.option(
    "--seconds",
    type=float,
    default=10.0,
    show_default=True,
    help="Timed seconds per batch and pair.",
)
@click.option("--threads", type=int, help="Intra-op threads (default: the runtime's).")
@click.option(
    "--out",
    help="Folder for runtime_overhead-<host>.json and .md "
    "[default: $PTX_RESULTS_DIR or ./bench-results].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def main(onnx_path, checkpoint, family, size, batch, seconds, threads, out, as_json) -> None:
    """Print ptx.runtime / bare InferenceSession and ONNX Runtime / PyTorch latency ratios."""
    result = run(
        onnx_path, checkpoint, family, size, tuple(parse_batches(batch)), seconds, threads, out
    )
    click.echo(json.dumps(result, indent=1) if as_json else markdown(result))


def run(
    onnx_path: str | None,
    checkpoint: str | None,
    family: str,
    size: int,
    batches: tuple[int, ...],
    seconds: float,
    threads: int | None,
    out: str | Path | None,
) -> dict:
    """Build or take the model, measure, and write ``out``/runtime_overhead-<host>.{json,md}."""
    with tempfile.TemporaryDirectory(prefix="ptx-overhead-") as tmp:
        model = None
        if onnx_path is None or checkpoint is not None:
            model = family_model(family, checkpoint)
        if onnx_path is None:
            onnx_path = str(export_onnx(model, Path(tmp) / f"{family}.onnx"))
        result = measure(
            onnx_path, model.module if model else None, batches, size, seconds, threads
        )
    result["weights"] = model.weights if model else "as in the ONNX file"
    out = results_dir(out)
    stem = f"runtime_overhead-{host_name()}"
    atomic_write_text(out / f"{stem}.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(out / f"{stem}.md", markdown(result))
    return result


if __name__ == "__main__":  # pragma: no cover
    run_script(main)

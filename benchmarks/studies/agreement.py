"""Does the harness agree with independent measurements? (issue 4, "Must show")

For one ONNX model on the CPU, in one run and in interleaved rounds, three
medians of per-call latency:

1. the harness (``bench_engine`` over ``ptx.runtime``), as `ptx bench` reports it;
2. a plain ``timeit`` loop over ``onnxruntime.InferenceSession.run`` (ORT's default
   session options, same intra-op thread count);
3. ``polygraphy run --onnxrt`` (its per-iteration "Inference Time" lines at ``-vv``;
   Polygraphy times ``sess.run`` with ``time.time()`` and makes its own inputs).

Prints the three numbers and the harness's ratio to each (target: within 10 %).

    python -m ptx.benchmarks.studies.agreement [--onnx m.onnx] [--size 256] [--rounds 3]
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import click

from ptx import runtime
from ptx.benchmarks.harness import stats
from ptx.benchmarks.harness.inputs import sized_shapes
from ptx.benchmarks.harness.measure import bench_engine
from ptx.benchmarks.harness.models import export_onnx, family_model
from ptx.benchmarks.harness.script import run_script
from ptx.errors import MissingDependency, ModelError
from ptx.inputs import example_inputs
from ptx.tensors import NamedShape

TOLERANCE = 0.10
_TIME_LINE = re.compile(r"\| Inference Time: ([0-9.]+) ms")


def polygraphy_times(
    onnx_path: str | Path,
    shapes: dict[str, tuple],
    iterations: int,
    warmup: int = 2,
    timeout_s: float = 600,
) -> list[float]:
    """Per-iteration inference times (ms) reported by ``polygraphy run --onnxrt -vv``."""
    exe = shutil.which("polygraphy") or str(Path(sys.executable).with_name("polygraphy"))
    if not Path(exe).exists():
        raise MissingDependency("polygraphy", "dev", "the agreement check")
    spec = " ".join(f"{n}:[{','.join(map(str, s))}]" for n, s in shapes.items())
    cmd = [
        exe,
        "run",
        str(onnx_path),
        "--onnxrt",
        "--iterations",
        str(iterations),
        "--warm-up",
        str(warmup),
        "--sequential-runners",
        "--input-shapes",
        *spec.split(),
        "-vv",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    times = [float(m.group(1)) for m in _TIME_LINE.finditer(proc.stdout + proc.stderr)]
    if proc.returncode != 0 or not times:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ModelError(f"polygraphy run failed on {onnx_path}: {tail[0]}")
    return times


def measure(
    onnx_path: str | Path,
    size: int = 256,
    batch: int = 1,
    rounds: int = 3,
    seconds: float = 3.0,
    threads: int | None = None,
) -> dict:
    """Interleaved rounds of harness / timeit / polygraphy; medians and ratios."""
    import onnxruntime as ort

    engine = runtime.load(onnx_path, threads=threads, backend="onnxruntime")
    dims = sized_shapes(engine.inputs, engine.spec, batch, size, where=str(onnx_path))
    shapes = [NamedShape(name, shape) for name, shape in dims.items()]
    feeds = example_inputs(engine.inputs, engine.spec, dims)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = engine.session.get_session_options().intra_op_num_threads
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    session.run(None, feeds)
    times: dict[str, list[float]] = {"harness": [], "timeit": [], "polygraphy": []}
    for _ in range(rounds):
        result = bench_engine(engine, shapes=shapes, warmup_s=0.5, duration_s=seconds, iterations=5)
        times["harness"] += [r.latency_ms for r in result.records]
        n = len(result.records)
        per_call = timeit.Timer(lambda: session.run(None, feeds)).repeat(repeat=n, number=1)
        times["timeit"] += [t * 1e3 for t in per_call]
        times["polygraphy"] += polygraphy_times(onnx_path, dims, n)
    med = {k: stats.median(v) for k, v in times.items()}
    return {
        "model": str(onnx_path),
        "inputs": {k: list(v) for k, v in dims.items()},
        "threads": opts.intra_op_num_threads,
        "rounds": rounds,
        "median_ms": med,
        "calls": {k: len(v) for k, v in times.items()},
        "harness_over_timeit": med["harness"] / med["timeit"],
        "harness_over_polygraphy": med["harness"] / med["polygraphy"],
        "tolerance": TOLERANCE,
    }


def text(result: dict) -> str:
    """The three medians and the ratios, one line each."""
    m, ok = result["median_ms"], lambda r: "within" if abs(r - 1) <= TOLERANCE else "OUTSIDE"
    shapes = ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in result["inputs"].items())
    return "\n".join(
        [
            f"model {Path(result['model']).name} ({shapes}), {result['threads']} threads, "
            f"{result['rounds']} interleaved rounds, calls {result['calls']}",
            f"harness (ptx bench) median : {m['harness']:.3f} ms",
            f"timeit InferenceSession.run: {m['timeit']:.3f} ms",
            f"polygraphy run --onnxrt    : {m['polygraphy']:.3f} ms",
            f"harness / timeit     = {result['harness_over_timeit']:.3f} "
            f"({ok(result['harness_over_timeit'])} 10%)",
            f"harness / polygraphy = {result['harness_over_polygraphy']:.3f} "
            f"({ok(result['harness_over_polygraphy'])} 10%)",
        ]
    )


@click.command()
@click.option("--onnx", "onnx_path", help="ONNX model (default: export the enhance family).")
@click.option("--size", type=int, default=256, show_default=True, help="Image side in pixels.")
@click.option("--batch", type=int, default=1, show_default=True)
@click.option("--rounds", type=int, default=3, show_default=True)
@click.option(
    "--seconds",
    type=float,
    default=3.0,
    show_default=True,
    help="Harness seconds per round (the others run as many calls).",
)
@click.option("--threads", type=int, help="Intra-op threads (default: the runtime's).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def main(onnx_path, size, batch, rounds, seconds, threads, as_json) -> None:
    """Harness median vs timeit vs polygraphy on one ONNX model."""
    with tempfile.TemporaryDirectory(prefix="ptx-agree-") as tmp:
        if onnx_path is None:
            onnx_path = str(export_onnx(family_model("enhance"), Path(tmp) / "enhance.onnx"))
        result = measure(onnx_path, size, batch, rounds, seconds, threads)
    click.echo(json.dumps(result, indent=1) if as_json else text(result))


if __name__ == "__main__":  # pragma: no cover
    run_script(main)

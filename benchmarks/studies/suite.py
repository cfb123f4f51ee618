"""`make bench`: each built-in family, PyTorch eager FP32 vs ONNX Runtime FP32 vs FP16, here.

For each family (``ptx.training.common.registry.names()``) the default config at random
init (or ``--checkpoint``) is exported the way `ptx export` does, converted to
FP16 with ``ptx.export.precision.convert.convert_fp16``, and each backend is measured
by the same harness as `ptx bench`. TensorRT FP16 joins where ptx can run a
plan on this host. The runtime-overhead benchmark (issue 2) runs last. Writes
``<out>/<host>.md`` with the ratio tables, one ``<host>-<family>.png`` per family
and the full ``<host>.json`` report (readable by `ptx bench compare`); ``--out``
defaults to $PTX_RESULTS_DIR or ./bench-results, and the summaries and plots worth
keeping are committed to docs/results/ (not the per-iteration JSON).

    python -m ptx.benchmarks.studies.suite [--quick] [--size 256] [--batch 1,8] [--duration 3]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
import numpy as np

from ptx import runtime
from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness import report
from ptx.benchmarks.harness.backends import TorchBackend
from ptx.benchmarks.harness.inputs import parse_batches, sized_shapes
from ptx.benchmarks.harness.measure import BenchResult, bench_engine
from ptx.benchmarks.harness.models import FamilyModel, export_onnx, family_model
from ptx.benchmarks.harness.plots import group_runs, plot_series
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.serving import grpc_overhead, serve_precision
from ptx.benchmarks.studies import capi_overhead, precision_ladder, runtime_overhead
from ptx.benchmarks.studies.enhance_folder import in_suite as enhance_folder_in_suite
from ptx.errors import PtxError
from ptx.export.precision.convert import convert_fp16
from ptx.io import atomic_write_text
from ptx.tensors import NamedShape, TensorInfo
from ptx.training.common import registry

QUICK = {"size": 64, "batches": (1, 2), "duration": 0.5, "overhead_s": 1.0}


def family_cases(
    family: str,
    size: int,
    batches: tuple[int, ...],
    duration: float,
    threads: int,
    work: Path,
    checkpoint: str | None = None,
) -> tuple[list[BenchResult], list[str], object]:
    """Measure one family on every backend; returns results, notes and the FamilyModel."""
    model = family_model(family, checkpoint)
    fp32 = export_onnx(model, work / f"{family}.onnx")
    fp16, notes = _fp16(fp32, work / f"{family}.fp16.onnx")
    infos = [TensorInfo(t.name, np.dtype(t.dtype), tuple(t.shape)) for t in model.spec.inputs]
    sized = sized_shapes(infos, model.spec, 1, size, where=family)
    shapes = [NamedShape(name, s) for name, s in sized.items() if len(s) == 4]
    kw = {
        "shapes": shapes,
        "warmup_s": 0.3,
        "duration_s": duration,
        "iterations": 3,
        "settings": {"threads": threads},
        "progress": True,
    }
    engines = [TorchBackend(model.module, f"{family} (PyTorch)", infos, model.spec, threads)]
    engines.append(runtime.load(fp32, threads=threads, backend="onnxruntime"))
    if fp16 is not None:
        engines.append(runtime.load(fp16, threads=threads, backend="onnxruntime"))
    openvino, note = _openvino(fp32, threads)
    engines += [openvino] if openvino is not None else []
    results = [bench_engine(e, batch=b, **kw) for b in batches for e in engines]
    return results, [*notes, note, _tensorrt_note()], model


def _openvino(onnx_path: Path, threads: int):
    """OpenVINO FP32 on the same ONNX where the optional backend is installed."""
    try:
        return runtime.load(onnx_path, threads=threads, backend="openvino"), "OpenVINO: measured"
    except PtxError as exc:
        return None, f"OpenVINO: not run ({exc})"


def _fp16(src: Path, dst: Path) -> tuple[Path | None, list[str]]:
    rep = convert_fp16(src, dst)
    return dst, [
        f"FP16 ONNX: {rep.fp16_nodes} of {rep.nodes} nodes in FP16, "
        f"{rep.fp32_nodes} kept FP32 ({rep.precision}, I/O {rep.io_dtype})"
    ]


def _tensorrt_note() -> str:
    if not env_mod.gpus():
        return "TensorRT FP16: not run (no NVIDIA GPU on this host)"
    return "TensorRT FP16: not timed by the suite; time a plan with ptx bench --engine M.plan"


def ratio_table(by_family: dict[str, list[BenchResult]]) -> str:
    """Markdown: per family and batch, each backend's median, images/s and speed-up vs PyTorch."""
    lines = [
        "| family | batch | backend | median ms | p99 ms | images/s | speed-up vs PyTorch |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for family, results in by_family.items():
        base = {r.batch: r.summary()["throughput"]["qps"] for r in results if r.backend == "torch"}
        for r in results:
            s = r.summary()
            ref = base.get(r.batch)
            speed = f"{s['throughput']['qps'] / ref:.2f}x" if ref else "-"
            lines.append(
                f"| {family} | {r.batch} | {r.label} | {s['latency']['median']:.2f} | "
                f"{s['latency']['p99']:.2f} | {s['throughput']['images_per_s']:.2f} | {speed} |"
            )
    return "\n".join(lines)


def markdown(
    env: dict,
    settings: dict,
    by_family: dict[str, list[BenchResult]],
    notes: list[str],
    models: list[FamilyModel],
    overhead: dict | None,
) -> str:
    """The host's results page."""
    v = env["versions"]
    head = [
        f"# ptx benchmark suite on `{env['hostname']}`",
        "",
        f"- CPU: {env['cpu']} ({env['cpu_cores']} usable cores); GPU: "
        f"{', '.join(g['name'] for g in env['gpus']) or 'none'}",
        f"- Versions: ptx {v.get('ptx')}, onnxruntime {v.get('onnxruntime')}, "
        f"torch {v.get('torch', '-')}, numpy {v.get('numpy')}, python {v.get('python')}",
        f"- Settings: {settings['size']}x{settings['size']} images, batches "
        f"{', '.join(map(str, settings['batches']))}, {settings['duration']} s per case "
        f"(at least 3 queries), {settings['threads']} threads for every backend",
        f"- Command: `{settings['command']}`",
        "",
        "## PyTorch eager vs ONNX Runtime (CPU)",
        "",
    ]
    for m in models:
        params = sum(p.numel() for p in m.module.parameters())
        head.append(f"- `{m.family}`: {params:,} parameters, weights: {m.weights}")
    head += ["", ratio_table(by_family), ""]
    head += [f"- {n}" for n in notes]
    pngs = settings["png"] if isinstance(settings["png"], list) else [settings["png"]]
    for png in pngs:
        head += ["", f"![latency and throughput vs batch]({png})", ""]
    if overhead is not None:
        head += ["## Runtime overhead (issue 2)", "", runtime_overhead.markdown(overhead)]
    return "\n".join(head) + "\n"


def run_suite(
    size: int = 256,
    batches: tuple[int, ...] = (1, 8),
    duration: float = 3.0,
    overhead_s: float = 10.0,
    families: tuple[str, ...] | None = None,
    threads: int | None = None,
    out: str | Path | None = None,
    checkpoint: str | None = None,
    command: str = "python -m ptx.benchmarks.studies.suite",
) -> Path:
    """Run every case and write <out>/<host>.md, .png and .json; returns the markdown path."""
    threads = threads or env_mod.usable_cores()
    families = families or tuple(registry.names())
    out = report.results_dir(out)
    host = env_mod.host_name()
    by_family, notes, models, overhead = {}, [], {}, None
    with tempfile.TemporaryDirectory(prefix="ptx-suite-") as tmp:
        for family in families:
            r, n, m = family_cases(family, size, batches, duration, threads, Path(tmp), checkpoint)
            by_family[family], models[family] = r, m
            notes += [f"`{family}`: {x}" for x in n]
        if "enhance" in models:
            overhead = runtime_overhead.measure(
                Path(tmp) / "enhance.onnx",
                models["enhance"].module,
                batches,
                size,
                overhead_s,
                threads,
            )
    env = env_mod.capture()
    runs = []
    for family, results in by_family.items():
        for r in results:
            if len(by_family) > 1:
                r.label = f"{family} {r.label}"
            runs.append(report.run_dict(r))
    doc = report.document(runs, env, {"overhead": overhead})
    report.write_json(doc, out / f"{host}.json")
    # One picture per family: twenty series on one pair of axes repeat colours and hide data.
    pngs = []
    for family in by_family:
        mine = [d for d in runs if d["label"].startswith(f"{family} ") or len(by_family) == 1]
        name = f"{host}-{family}.png" if len(by_family) > 1 else f"{host}.png"
        plot_series(group_runs(mine), out / name, f"ptx suite on {host}: {family} at {size}x{size}")
        pngs.append(name)
    settings = {
        "size": size,
        "batches": batches,
        "duration": duration,
        "threads": threads,
        "command": command,
        "png": pngs,
    }
    md = out / f"{host}.md"
    atomic_write_text(md, markdown(env, settings, by_family, notes, models.values(), overhead))
    capi_overhead.in_suite(out, overhead_s)  # issue 16: C++ (libptx) vs Python, its own page
    grpc_overhead.in_suite(out)  # issue 17: ptx serve over gRPC and HTTP vs in-process
    serve_precision.in_suite(out)  # issue 19: ptx serve --precision auto vs fp32
    precision_ladder.in_suite(out, size, batches, families, threads)  # issue 19: its own page
    enhance_folder_in_suite(out)  # issue 14: folder run vs model alone, its own page
    return md


@click.command()
@click.option("--quick", is_flag=True, help="64x64, batches 1,2, 0.5 s per case (a smoke run).")
@click.option("--size", type=int, help="Image side (default 256).")
@click.option("--batch", help="Batch sizes (default 1,8).")
@click.option("--duration", type=float, help="Seconds per case (default 3).")
@click.option("--family", "families", multiple=True, help="Only these families (repeat).")
@click.option("--checkpoint", help="Trained checkpoint to use instead of random init.")
@click.option("--threads", type=int, help="Threads for every backend (default: usable cores).")
@click.option("--out", help="Results folder [default: $PTX_RESULTS_DIR or ./bench-results].")
def main(quick, size, batch, duration, families, checkpoint, threads, out) -> None:
    """Run the benchmark suite and write <out>/<host>.md (default ./bench-results)."""
    preset = (
        QUICK if quick else {"size": 256, "batches": (1, 8), "duration": 3.0, "overhead_s": 10.0}
    )
    md = run_suite(
        size=size or preset["size"],
        batches=tuple(parse_batches(batch)) if batch else preset["batches"],
        duration=duration or preset["duration"],
        overhead_s=preset["overhead_s"],
        families=tuple(families) or None,
        threads=threads,
        out=out,
        checkpoint=checkpoint,
        command="python -m ptx.benchmarks.studies.suite " + " ".join(sys.argv[1:]),
    )
    click.echo(md.read_text())
    click.echo(f"wrote {md}", err=True)


if __name__ == "__main__":  # pragma: no cover
    run_script(main)

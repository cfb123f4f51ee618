"""Folder runs keep the model busy (issue 14): `ptx run enhance` vs `ptx bench`, side by side.

Two contenders on the same model and backend, interleaved in one run (rotating order,
ptx.timing): the folder pipeline `ptx run enhance` uses (``enhance_path``: decode,
convert, model, convert back, encode, atomic write of every photo of a folder of
JPEGs) and the model alone as `ptx bench` runs it (``Engine.run`` on one prepared
input, the engine loaded the way `ptx bench --model --backend` loads it), the same
number of images per call. The target is folder / model-only >= 0.85 (images/s).
The photos are ptx's synthetic catalogue renders saved as JPEG (quality 90).

    python -m ptx.benchmarks.studies.enhance_folder [--model M.onnx] [--backend onnxruntime,auto]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from ptx import runtime
from ptx.benchmarks.harness import stats
from ptx.benchmarks.harness.env import capture, host_name
from ptx.benchmarks.harness.report import results_dir
from ptx.benchmarks.harness.script import run_script
from ptx.errors import InputError
from ptx.inputs import example_inputs
from ptx.io import atomic_write_text, encode_image, read_image
from ptx.runtime.backends import quiet_pool
from ptx.runtime.pipelines.enhance import enhance_path
from ptx.timing import time_interleaved
from ptx.training.data.catalogue import render_product

TARGET = 0.85  # folder images/s over model-only images/s, issue 14
SHIPPED = Path(runtime.__file__).parent / "models" / "enhance.onnx"


def write_photos(folder: Path, n: int, size: int, seed: int = 0) -> list[Path]:
    """``n`` catalogue renders, ``size`` x ``size``, as JPEG files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        rgb = render_product(seed, i, size)[0]
        path = folder / f"photo_{i:03d}.jpg"
        path.write_bytes(encode_image(rgb, "JPEG", quality=90))
        paths.append(path)
    return paths


def measure(
    model: str | Path,
    backend: str,
    photos: Path,
    work: Path,
    rounds: int = 3,
    threads: int | None = None,
) -> dict:
    """Interleave the folder run and the model alone over the photos; images/s and ratio."""
    n = len(list(photos.iterdir()))
    bench = runtime.load(model, backend=backend, threads=threads)  # as `ptx bench` loads it
    run = runtime.load(model, backend=backend, threads=threads, **quiet_pool(backend))
    name = bench.inputs[0].name
    size = read_image(next(photos.iterdir())).shape[:2]
    feeds = example_inputs(bench.inputs, bench.spec, {name: (1, 3, *size)})
    summaries = []

    def model_only(engine) -> Callable[[], None]:
        def call() -> None:
            for _ in range(n):
                engine.run(feeds)

        return call

    def folder() -> None:
        out = work / f"out{len(summaries)}"
        summary = enhance_path(run, photos, out, progress=False)
        if summary.images != n:
            raise InputError(f"folder run wrote {summary.images} of {n} images: {summary.skipped}")
        summaries.append(summary.to_dict())

    sides = {"bench": model_only(bench), "same_engine": model_only(run), "folder": folder}
    times = time_interleaved(sides, budget_s=None, max_rounds=rounds, warmup=True)
    med = {k: stats.median(v) for k, v in times.items()}
    result = {
        "backend": backend,
        "resolved": run.backend,
        "threads": getattr(run, "threads", None),
        "images": n,
        "size": list(size),
        "rounds": rounds,
        "seconds": times,
        "images_per_s": {k: n / v for k, v in med.items()},
        "target": TARGET,
    }
    for side in ("bench", "same_engine"):
        per_round = [m / f for m, f in zip(times[side], times["folder"], strict=True)]
        result[f"ratio_{side}"] = med[side] / med["folder"]
        result[f"ratio_{side}_per_round"] = per_round
    result["meets_target"] = min(result["ratio_bench"], result["ratio_same_engine"]) >= TARGET
    return result


def markdown(doc: dict) -> str:
    """The study's table as markdown."""
    lines = [
        f"# Folder throughput vs model-only on `{doc['host']}`",
        "",
        f"- Model `{doc['model']}`; {doc['images']} JPEG photos of {doc['size']}x{doc['size']} "
        f"(synthetic catalogue renders); {doc['rounds']} interleaved rounds per backend, "
        f"medians; CPU: {doc['env']['cpu']} ({doc['env']['cpu_cores']} usable cores), load "
        f"average {doc['load_average'][0]:.1f} at the end",
        "- Model only, `ptx bench`: the engine as `ptx bench --model --backend` loads it "
        "(ONNX Runtime's pool threads spin); same engine: the folder run's own engine "
        "(pool threads parked) alone on the same input, the strict comparison.",
        f"- Command: `{doc['command']}`",
        "",
        "| backend | ran on | `ptx bench` images/s | same engine images/s | folder images/s "
        "(`ptx run enhance`) | folder / `ptx bench` | folder / same engine (per round) "
        "| target |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in doc["results"]:
        ips = r["images_per_s"]
        rounds = ", ".join(f"{x:.3f}" for x in r["ratio_same_engine_per_round"])
        ok = "met" if r["meets_target"] else "missed"
        lines.append(
            f"| {r['backend']} | {r['resolved']} | {ips['bench']:.2f} | "
            f"{ips['same_engine']:.2f} | {ips['folder']:.2f} | {r['ratio_bench']:.3f} | "
            f"{r['ratio_same_engine']:.3f} ({rounds}) | both >= {r['target']} ({ok}) |"
        )
    return "\n".join(lines) + "\n"


def run(
    model: str | Path = SHIPPED,
    backends: tuple[str, ...] = ("onnxruntime", "auto"),
    n: int = 48,
    size: int = 512,
    rounds: int = 3,
    threads: int | None = None,
    out: str | Path | None = None,
    command: str = "python -m ptx.benchmarks.studies.enhance_folder",
) -> dict:
    """Measure every backend, write ``out``/enhance_folder-<host>.{json,md}; returns the doc."""
    if not Path(model).is_file():
        raise InputError(f"{model}: no such model")
    with tempfile.TemporaryDirectory(prefix="ptx-enhance-folder-") as tmp:
        photos = Path(tmp) / "photos"
        write_photos(photos, n, size)
        results = [measure(model, b, photos, Path(tmp) / b, rounds, threads) for b in backends]
    doc = {
        "host": host_name(),
        "model": str(model),
        "images": n,
        "size": size,
        "rounds": rounds,
        "command": command,
        "env": capture(),
        "load_average": list(os.getloadavg()),  # other work on the machine while measuring
        "results": results,
    }
    dest = results_dir(out)
    stem = f"enhance_folder-{doc['host']}"
    atomic_write_text(dest / f"{stem}.json", json.dumps(doc, indent=1) + "\n")
    atomic_write_text(dest / f"{stem}.md", markdown(doc))
    return doc


def in_suite(out: str | Path | None) -> Path:
    """`make bench`: the study at its defaults, on its own page; returns the markdown path."""
    doc = run(out=out, command="python -m ptx.benchmarks.studies.suite")
    click.echo(f"enhance folder vs model-only: {_summary(doc)}", err=True)
    return results_dir(out) / f"enhance_folder-{doc['host']}.md"


def _summary(doc: dict) -> str:
    return "; ".join(
        f"{r['backend']} {r['ratio_same_engine']:.2f}x same engine, "
        f"{r['ratio_bench']:.2f}x ptx bench"
        for r in doc["results"]
    )


@click.command()
@click.option("--model", default=str(SHIPPED), show_default=True, help="enhance ONNX model")
@click.option("--backend", "backends", default="onnxruntime,auto", show_default=True)
@click.option("--images", "n", type=int, default=48, show_default=True)
@click.option("--size", type=int, default=512, show_default=True, help="photo side, pixels")
@click.option("--rounds", type=int, default=3, show_default=True, help="interleaved rounds")
@click.option("--threads", type=int, help="intra-op threads (default: the runtime's)")
@click.option("--out", help="results folder [default: $PTX_RESULTS_DIR or ./bench-results]")
def main(model, backends, n, size, rounds, threads, out) -> None:
    """Print folder-run vs model-only throughput (images/s) and their ratio per backend."""
    if n < 1 or size < 32 or rounds < 1:
        raise InputError("--images and --rounds must be >= 1 and --size >= 32")
    doc = run(
        model,
        tuple(b.strip() for b in backends.split(",") if b.strip()),
        n,
        size,
        rounds,
        threads,
        out,
        "python -m ptx.benchmarks.studies.enhance_folder " + " ".join(sys.argv[1:]),
    )
    click.echo(markdown(doc))


if __name__ == "__main__":  # pragma: no cover
    run_script(main)

"""Batch scaling (issue 17): `ptx batch` with 1 and 2 workers against `ptx run`, side by side.

Over N synthetic photos at SIZE x SIZE, in one process and one local Ray, each
round runs every side once in rotating order: ``ptx run`` (its default threads),
``ptx run`` on one thread, and ``ptx batch`` with 1 and 2 workers of one thread
each (a worker is a core). Each side's time is the whole call (planning, model
load, the writes) and the median over rounds is reported. From the per-worker
figure and the measured 2-worker efficiency follows, on paper, the cluster size
for a target rate (10,000 images/s). Targets are reported, not asserted.

    python -m ptx.benchmarks.studies.batch_scaling [--onnx M] [--size 512] [--images 32]
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from ptx.benchmarks.harness.env import host_name, usable_cores
from ptx.benchmarks.harness.report import results_dir
from ptx.benchmarks.harness.script import run_script
from ptx.io import atomic_write_text, write_image
from ptx.runtime.batch import run_batch
from ptx.runtime.batch.job import import_ray
from ptx.runtime.pipelines.enhance import enhance_path

TARGET_RATE = 10_000.0  # images/s at peak (issue 17)
ONE_VS_RUN = 0.85  # ptx batch x1 / ptx run, target
TWO_VS_ONE = 1.5  # ptx batch x2 / x1, target
SIDES = ("run", "run_1t", "batch_x1", "batch_x2")


def photos(folder: Path, n: int, size: int, seed: int = 0) -> Path:
    """``n`` photo-like PNGs (smooth gradients, mild noise) of ``size`` x ``size``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / max(1, size - 1)
    for i in range(n):
        base = np.stack([xx, yy, (xx + yy) / 2], axis=-1) * rng.uniform(120, 220, 3)
        noisy = base + rng.normal(0, 6, base.shape) + rng.uniform(0, 30)
        write_image(folder / f"p{i:05d}.png", np.clip(noisy, 0, 255).astype(np.uint8))
    return folder


def cluster_size(per_worker: float, efficiency: float, target: float = TARGET_RATE) -> int:
    """Workers (one core each) for ``target`` images/s at ``per_worker`` and this efficiency."""
    if per_worker <= 0 or efficiency <= 0:
        raise ValueError("per-worker rate and efficiency must be positive")
    return math.ceil(target / (per_worker * min(1.0, efficiency)))


def summarise(rates: dict[str, list[float]], images: int) -> dict:
    """Median images/s per side, the two ratios against their targets, the cluster on paper."""
    med = {side: statistics.median(v) for side, v in rates.items()}
    one_vs_run = med["batch_x1"] / med["run"]
    two_vs_one = med["batch_x2"] / med["batch_x1"]
    efficiency = two_vs_one / 2
    workers = cluster_size(med["batch_x1"], efficiency)
    return {
        "images": images,
        "images_per_s": med,
        "batch_x1_over_run": one_vs_run,
        "batch_x1_over_run_1t": med["batch_x1"] / med["run_1t"],
        "batch_x2_over_x1": two_vs_one,
        "meets": {"x1_vs_run": one_vs_run >= ONE_VS_RUN, "x2_vs_x1": two_vs_one >= TWO_VS_ONE},
        "cluster": {
            "target_images_per_s": TARGET_RATE,
            "per_worker_images_per_s": med["batch_x1"],
            "scaling_efficiency": min(1.0, efficiency),
            "workers": workers,
            "nodes_of_32_cores": math.ceil(workers / 32),
        },
    }


def _sides(model: Path) -> dict[str, Callable[[Path, Path], int]]:
    return {
        "run": lambda src, out: enhance_path(model, src, out, progress=False).images,
        "run_1t": lambda src, out: enhance_path(model, src, out, threads=1, progress=False).images,
        "batch_x1": lambda src, out: (
            run_batch("enhance", model, src, out, workers=1, threads=1, progress=False).images
        ),
        "batch_x2": lambda src, out: (
            run_batch("enhance", model, src, out, workers=2, threads=1, progress=False).images
        ),
    }


def measure(
    model: Path, folders: dict[int, Path], work: Path, rounds: int
) -> dict[int, dict[str, list[float]]]:
    """Seconds of every side per image count and round (rotating order), fresh --out each."""
    sides = _sides(model)
    times = {n: {side: [] for side in SIDES} for n in folders}
    for r in range(rounds):
        order = SIDES[r % len(SIDES) :] + SIDES[: r % len(SIDES)]
        for side in order:
            for n, folder in folders.items():
                out = work / f"{side}-{n}-{r}"
                start = time.perf_counter()
                done = sides[side](folder, out)
                times[n][side].append(time.perf_counter() - start)
                if done != n:
                    raise RuntimeError(f"{side}: wrote {done} of {n} images")
                shutil.rmtree(out, ignore_errors=True)
    return times


def rates_of(times: dict[int, dict[str, list[float]]]) -> tuple[dict, dict | None]:
    """Whole-call images/s at the largest count, and the marginal rate between the two counts.

    The marginal rate (extra images / extra seconds) leaves out what every call pays
    once (Ray actors starting, the model loading), which a catalogue run amortises.
    None when noise made a larger run no slower than a smaller one (use more images).
    """
    small, large = sorted(times)[0], sorted(times)[-1]
    whole = {side: [large / t for t in ts] for side, ts in times[large].items()}
    marginal = {}
    for side in SIDES:
        extra = statistics.median(times[large][side]) - statistics.median(times[small][side])
        if extra <= 0:
            return whole, None
        marginal[side] = [(large - small) / extra]
    return whole, marginal


def _ratios(s: dict) -> list[str]:
    c = s["cluster"]
    return [
        f"- batch x1 / ptx run: {s['batch_x1_over_run']:.2f} (target >= {ONE_VS_RUN}); "
        f"batch x1 / ptx run on 1 thread: {s['batch_x1_over_run_1t']:.2f}",
        f"- batch x2 / x1: {s['batch_x2_over_x1']:.2f} (target >= {TWO_VS_ONE})",
        f"- on paper: {c['target_images_per_s']:.0f} images/s at "
        f"{c['per_worker_images_per_s']:.2f} images/s per worker and "
        f"{c['scaling_efficiency']:.0%} efficiency = {c['workers']} workers "
        f"(one core each), {c['nodes_of_32_cores']} nodes of 32 cores",
    ]


def markdown(result: dict) -> str:
    """The side-by-side table (whole calls and marginal), the ratios, the cluster on paper."""
    s, m = result["summary"], result["marginal"]
    marginal = {side: m["images_per_s"][side] if m else float("nan") for side in SIDES}
    counts = sorted(int(n) for n in result["seconds"])
    load = ", ".join(f"{x:.1f}" for x in result["load_average"])
    lines = [
        f"`{Path(result['model']).name}`, {result['size']}x{result['size']} images, "
        f"{result['rounds']} round(s), {result['cores']} usable cores on {result['host']} "
        f"(load average {load}). Whole calls timed (plan, model load, Ray actors, writes) "
        f"over {counts[-1]} images; marginal = extra images / extra seconds between "
        f"{counts[0]} and {counts[-1]} images (what a long catalogue run sees).",
        "",
        "| side | whole call images/s | marginal images/s |",
        "|---|---:|---:|",
        *[f"| {side} | {s['images_per_s'][side]:.2f} | {marginal[side]:.2f} |" for side in SIDES],
        "",
        "Whole calls:",
        *_ratios(s),
        "",
        "Marginal:",
        *(_ratios(m) if m else ["- not measurable: a larger run was no slower (more --images)"]),
    ]
    return "\n".join(lines) + "\n"


def run(onnx_path: str | None, size: int, images: int, rounds: int, out: str | None) -> dict:
    """Export the default enhancer unless given one, make the photos, measure, write JSON + md."""
    ray = import_ray()
    with tempfile.TemporaryDirectory(prefix="ptx-batch-scaling-") as tmp:
        work = Path(tmp)
        if onnx_path is None:
            from ptx.benchmarks.harness.models import export_onnx, family_model

            onnx_path = str(export_onnx(family_model("enhance"), work / "enhance.onnx"))
        small = max(1, images // 4)
        folder = photos(work / "photos", images, size)
        first = work / "first"
        first.mkdir()
        for p in sorted(folder.glob("*.png"))[:small]:
            shutil.copy(p, first / p.name)
        started = not ray.is_initialized()
        if started:  # one local Ray for every side (its start-up is not any side's cost)
            ray.init(num_cpus=usable_cores(), include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR")  # fmt: skip
        try:
            times = measure(Path(onnx_path), {small: first, images: folder}, work, rounds)
        finally:
            if started:
                ray.shutdown()
    whole, marginal = rates_of(times)
    result = {
        "study": "batch_scaling",
        "model": onnx_path,
        "size": size,
        "rounds": rounds,
        "cores": usable_cores(),
        "host": host_name(),
        "load_average": os.getloadavg(),
        "seconds": {str(n): t for n, t in times.items()},
        "summary": summarise(whole, images),
        "marginal": summarise(marginal, images) if marginal else None,
    }
    dest = results_dir(out)
    atomic_write_text(dest / "batch_scaling.json", json.dumps(result, indent=1))
    atomic_write_text(dest / "batch_scaling.md", markdown(result))
    return result


@click.command()
@click.option("--onnx", "onnx_path", help="Enhancer to run (default: export the family's).")
@click.option("--size", type=int, default=512, show_default=True, help="Image side in pixels.")
@click.option("--images", type=int, default=32, show_default=True, help="Images per side.")
@click.option("--rounds", type=int, default=1, show_default=True, help="Runs of every side.")
@click.option("--out", default=None, help="Results folder [$PTX_RESULTS_DIR or bench-results].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def main(onnx_path, size, images, rounds, out, as_json) -> None:
    """ptx batch x1 and x2 against ptx run on one machine; the cluster for 10,000 images/s."""
    result = run(onnx_path, size, images, rounds, out)
    click.echo(json.dumps(result, indent=1) if as_json else markdown(result))


if __name__ == "__main__":  # pragma: no cover
    run_script(main)

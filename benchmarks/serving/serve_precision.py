"""`ptx serve --precision auto` against `--precision fp32`: latency and throughput, one run.

Starts two `ptx serve` processes on the same model (default: the shipped enhancer,
``ptx.runtime``'s models/enhance.onnx), one ``--precision auto`` (the CPU precision
ladder picks backend and precision at load, its trial on a fresh cache) and one
``--precision fp32`` (auto picks among the fp32 backends only), both with
``--trial-shape`` at the request size, so the trial measures the size they serve (at
the spec's opt shape, 256, bf16 and f32 were within noise and the pick flipped from run
to run). Each server's backend and precision come from its v2 model metadata
(``parameters``), its reasons from ``backend_choice``. Then closed-loop clients
(``ptx.benchmarks.serving.closed_loop``, binary tensors, one request in flight per
client) load each server at each concurrency in alternating rounds, so both see the
same machine state. Every answer is checked against ONNX Runtime fp32 in this process
under the ladder's parity gate (images: PSNR on pixels; other outputs: relative L2),
so a reduced precision that drifted past the gate counts as a wrong answer (a client
checks an answer before it sends its next request, alike for both servers; latency
stops at the answer, before the check). Writes ``<out>/<name>.json`` and ``.md``.

    python -m ptx.benchmarks.serving.serve_precision [--size 512] [--concurrency 1,16]
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np

from ptx import runtime
from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness import report, stats
from ptx.benchmarks.harness.inputs import sized_shapes
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.serving.bench import concurrency_levels
from ptx.benchmarks.serving.closed_loop import Phase, run_phase
from ptx.benchmarks.serving.kserve_client import Endpoint, model_io
from ptx.benchmarks.serving.load import spawn_server, stop_server
from ptx.errors import InputError, ModelError
from ptx.inputs import example_inputs
from ptx.io import atomic_write_text
from ptx.runtime.backends.auto import precision as ladder
from ptx.spec import ModelSpec

SHIPPED = Path(runtime.__file__).resolve().parent / "models" / "enhance.onnx"
SERVERS = ("auto", "fp32")  # the --precision of each server; the second is the baseline
DISTINCT_INPUTS = 4  # pictures in rotation, each with its fp32 reference answer
NAME = "m"
COUNTS = ("answered", "errors", "wrong_results", "overloaded_503")


def reference_answers(
    model: Path, size: int
) -> tuple[list[dict], list[dict], ModelSpec | None, dict[str, tuple[int, ...]]]:
    """(feeds, ONNX Runtime fp32 answers, spec, shapes): the spec's pictures at ``size``."""
    engine = runtime.load(model, backend="onnxruntime", precision="fp32")
    try:
        shapes = sized_shapes(engine.inputs, engine.spec, 1, size, where=model.name)
        feeds = [
            example_inputs(engine.inputs, engine.spec, shapes, pictures="pictures", index=k)
            for k in range(DISTINCT_INPUTS)
        ]
        return feeds, [engine.run(f) for f in feeds], engine.spec, shapes
    finally:
        engine.close()


def served_choice(url: str) -> dict:
    """The backend and precision a server runs, from its model metadata."""
    _, _, meta = model_io(Endpoint(url), NAME)
    params = meta.get("parameters", {})
    return {
        "backend": params.get("backend"),
        "precision": params.get("precision"),
        "choice": params.get("backend_choice") or "no trial (one backend installed)",
    }


def trial_args(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """``--trial-shape NAME:SHAPE`` per input: the trial at the size the study sends."""
    out = []
    for name, shape in shapes.items():
        out += ["--trial-shape", f"{name}:{'x'.join(map(str, shape))}"]
    return out


def measure(
    model: Path,
    size: int = 512,
    concurrency: Sequence[int] = (1, 16),
    seconds: float = 30.0,
    rounds: int = 3,
    warmup_s: float = 6.0,
) -> dict:
    """Both servers at every concurrency, alternating rounds of ``seconds / rounds``."""
    feeds, answers, spec, shapes = reference_answers(model, size)

    def check(k: int, got: dict[str, np.ndarray]) -> bool:
        return ladder.gate(spec, answers[k], got)[0]

    procs, urls, served = {}, {}, {}
    saved = os.environ.get("PTX_CACHE_DIR")
    try:
        with tempfile.TemporaryDirectory(prefix="ptx-serve-precision-") as cache:
            os.environ["PTX_CACHE_DIR"] = cache  # each server measures its own choice now
            for p in SERVERS:
                args = ["--precision", p, *trial_args(shapes)]
                procs[p], urls[p] = spawn_server(f"{NAME}={model}", args)
                served[p] = served_choice(urls[p])
            for p in SERVERS:  # OpenVINO compiles each merged batch's shape on first use
                for c in concurrency:
                    run_phase(Endpoint(urls[p]), NAME, feeds, check, c, warmup_s)
            phases = alternate(urls, feeds, check, concurrency, seconds / rounds, rounds)
    finally:
        for proc in procs.values():
            stop_server(proc)
        if saved is None:
            os.environ.pop("PTX_CACHE_DIR", None)
        else:
            os.environ["PTX_CACHE_DIR"] = saved
    cells = [_cell(p, c, phases[p, c]) for c in concurrency for p in SERVERS]
    return {
        "model": str(model),
        "size": size,
        "trial_shapes": {k: list(v) for k, v in shapes.items()},
        "concurrency": list(concurrency),
        "rounds": rounds,
        "seconds": seconds,
        "servers": served,
        "gate": ladder.gate_line(),
        "cells": cells,
        "ratios": ratios(cells, concurrency),
    }


def alternate(
    urls: dict, feeds: list, check, concurrency: Sequence[int], seconds: float, rounds: int
) -> dict[tuple[str, int], list[Phase]]:
    """``rounds`` rounds; in each, every concurrency on each server in turn for ``seconds``."""
    phases: dict[tuple[str, int], list[Phase]] = {(p, c): [] for p in urls for c in concurrency}
    for _ in range(rounds):
        for c in concurrency:
            for p, url in urls.items():
                phases[p, c].append(run_phase(Endpoint(url), NAME, feeds, check, c, seconds))
    return phases


def _cell(precision: str, c: int, phases: list[Phase]) -> dict:
    """p50/p95 over every answer of the cell's phases, throughput over their spans."""
    lat = [it.latency_ms for ph in phases for it in ph.iterations()]
    outcomes = [ph.outcome() for ph in phases]
    tally = {k: sum(o[k] for o in outcomes) for k in COUNTS}
    first = next((o["first_error"] for o in outcomes if o["first_error"]), None)
    if not lat:
        raise ModelError(
            f"--precision {precision} server answered nothing at concurrency {c} "
            f"({tally['errors']} errors, first: {first})"
        )
    # a phase lasts until its last answer (clients finish the request they were in)
    wall_s = sum(max(it.end_ms for it in ph.iterations()) for ph in phases if ph.iterations())
    return {
        "server": precision,
        "concurrency": c,
        "p50_ms": stats.median(lat),
        "p95_ms": stats.percentile(lat, 95),
        "req_per_s": tally["answered"] / (wall_s / 1e3),
        "wall_s": wall_s / 1e3,
        **tally,
        "first_error": first,
    }


def ratios(cells: list[dict], concurrency: Sequence[int]) -> dict:
    """Per concurrency: auto's p50 and throughput against fp32's (> 1 throughput: auto wins)."""
    by = {(c["server"], c["concurrency"]): c for c in cells}
    return {
        str(c): {
            "p50": by["auto", c]["p50_ms"] / by["fp32", c]["p50_ms"],
            "throughput": by["auto", c]["req_per_s"] / by["fp32", c]["req_per_s"],
        }
        for c in concurrency
    }


def failures(res: dict) -> str | None:
    """One line naming failed or wrong answers, None when every answer passed the gate."""
    bad = [c for c in res["cells"] if c["errors"] or c["wrong_results"]]
    if not bad:
        return None
    return "; ".join(
        f"--precision {c['server']} at concurrency {c['concurrency']}: {c['errors']} errors, "
        f"{c['wrong_results']} answers outside the gate (first error: {c.get('first_error')})"
        for c in bad
    )


def findings(res: dict) -> list[str]:
    """The figures as sentences."""
    s, lines = res["servers"], []
    lines.append(
        f"--precision auto served {s['auto']['backend']} {s['auto']['precision']}; "
        f"--precision fp32 served {s['fp32']['backend']} fp32"
    )
    for c, r in res["ratios"].items():
        lines.append(
            f"concurrency {c}: auto p50 {r['p50']:.2f}x fp32's, throughput {r['throughput']:.2f}x"
        )
    return lines


def trial_text(res: dict) -> str:
    """``image:1x3x512x512`` for each trial shape (the study's request size)."""
    shapes = res.get("trial_shapes") or {}
    return ", ".join(f"{k}:{'x'.join(map(str, v))}" for k, v in shapes.items()) or "the spec's"


def write(res: dict, out: Path, name: str, command: str) -> list[Path]:
    """JSON and Markdown under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    env = env_mod.capture()
    doc = report.document([], env, {"serve_precision": res, "command": command})
    report.write_json(doc, out / f"{name}.json")
    md = [
        f"# ptx serve: --precision auto vs fp32 ({env.get('hostname', '?')})",
        "",
        f"`{command}`, {doc['created']}, {env.get('cpu', '?')}, {env.get('cpu_cores', '?')} "
        f"cores shared with other jobs. `{Path(res['model']).name}` at {res['size']}x"
        f"{res['size']}, closed-loop HTTP clients (binary tensors), {res['rounds']} alternating "
        f"rounds, {res['seconds']:g} s per server and concurrency in all; every answer gated "
        f"against ONNX Runtime fp32 in-process ({res['gate']}). Both servers ran their "
        f"auto trial at {trial_text(res)} (`--trial-shape`).",
        "",
        "| server | backend | precision | clients | p50 ms | p95 ms | req/s | answered | "
        "errors | outside gate |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in res["cells"]:
        s = res["servers"][c["server"]]
        md.append(
            f"| --precision {c['server']} | {s['backend']} | {s['precision']} | "
            f"{c['concurrency']} | {c['p50_ms']:.1f} | {c['p95_ms']:.1f} | "
            f"{c['req_per_s']:.2f} | {c['answered']} | {c['errors']} | {c['wrong_results']} |"
        )
    md += ["", *(f"- {line}" for line in findings(res))]
    md += [f"- `--precision {p}` choice: {s['choice']}" for p, s in res["servers"].items()]
    atomic_write_text(out / f"{name}.md", "\n".join(md) + "\n")
    return [out / f"{name}.json", out / f"{name}.md"]


def in_suite(out: str | Path | None = None, size: int = 512, seconds: float = 30.0) -> list[str]:
    """The study as `make bench` runs it (the suite calls this): its own page; its findings."""
    res = measure(SHIPPED, size, seconds=seconds)
    cmd = f"python -m ptx.benchmarks.serving.serve_precision --size {size} --seconds {seconds:g}"
    write(res, report.results_dir(out), "serve-precision", cmd)
    return findings(res)


@click.command()
@click.option("--model", type=click.Path(dir_okay=False), default=str(SHIPPED),
              show_default=True, help="model to serve")  # fmt: skip
@click.option("--size", default=512, show_default=True, help="image side per request")
@click.option("--concurrency", default="1,16", show_default=True, help="client counts")
@click.option("--seconds", default=30.0, show_default=True, help="seconds per server and level")
@click.option("--rounds", default=3, show_default=True, help="alternating rounds")
@click.option("--warmup", default=6.0, show_default=True, help="warm-up seconds per level")
@click.option("--out", help="results folder [default: $PTX_RESULTS_DIR or ./bench-results]")
@click.option("--name", default="serve-precision", show_default=True, help="results file stem")
def main(model, size, concurrency, seconds, rounds, warmup, out, name) -> None:
    """p50/p95 and throughput of `ptx serve --precision auto` vs fp32; JSON and Markdown."""
    if rounds < 1 or seconds <= 0 or size < 8:
        raise InputError(f"--rounds >= 1, --seconds > 0 and --size >= 8 (got {rounds}, "
                         f"{seconds}, {size})")  # fmt: skip
    res = measure(Path(model), size, concurrency_levels(concurrency), seconds, rounds, warmup)
    cmd = "python -m ptx.benchmarks.serving.serve_precision " + " ".join(sys.argv[1:])
    written = write(res, report.results_dir(out), name, cmd.strip())
    for line in findings(res):
        click.echo(f"- {line}")
    click.echo("wrote " + ", ".join(map(str, written)), err=True)
    problem = failures(res)
    if problem:
        raise ModelError(problem)


if __name__ == "__main__":  # pragma: no cover
    run_script(main)

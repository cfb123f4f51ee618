"""The serving load benchmark: `ptx serve` under 64 closed-loop clients, batching on and off.

Starts `ptx serve` on the enhancer (a given ONNX, else the registered family's
default configuration at random init, exported as `ptx export` does), then for
each server configuration runs `ptx bench --url` logic: concurrency 1 (batching
on only: a lone client never waits for a batch) and N clients for D seconds.
Every answer is checked against the same ONNX run in this process. Writes
``<out>/<name>.json`` (ptx.bench document), ``.md`` and ``.png``, and exits
non-zero when any request failed or came back wrong. ``--out`` defaults to
``$PTX_RESULTS_DIR`` or ``./bench-results``; committed copies live in docs/results/.

    python -m ptx.benchmarks.serving.load                      # 64 clients x 60 s, 256x256
    python -m ptx.benchmarks.serving.load --clients 8 --duration 5 --out /tmp/serve
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from ptx.benchmarks.harness import env as env_mod
from ptx.benchmarks.harness import report, stats
from ptx.benchmarks.harness.models import export_onnx, family_model
from ptx.benchmarks.harness.plots import group_runs, plot_series
from ptx.benchmarks.harness.script import run_script
from ptx.benchmarks.serving.bench import (
    ServeTarget,
    Workload,
    failures,
    in_process_times,
    prepare,
    run_serve_bench,
)
from ptx.benchmarks.serving.report import serve_table
from ptx.errors import InputError, ModelError, require
from ptx.formats.onnx import graph_io, load_onnx
from ptx.io import atomic_path, atomic_write_text
from ptx.tensors import NamedShape

MODES = {  # label -> extra `ptx serve` flags
    "batching on": ["--max-batch", "8", "--max-delay-us", "2000"],
    "batching off": ["--max-batch", "1"],
}
P50_TARGET = 1.15  # p50 at concurrency 1 over the in-process p50 (the target)


def spawn_server(spec: str, args: list[str], timeout_s: float = 60.0):
    """Start `ptx serve --model spec` on a free loopback port; (process, url)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "import sys; from ptx.runtime.cli.serve import serve; serve(sys.argv[1:])"
    cmd = [sys.executable, "-c", code, "--model", spec, "--port", str(port), "--log-level",
           "warning", "--queue", "256", *args]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InputError(f"ptx serve exited with {proc.returncode}; see its message above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise InputError(f"ptx serve did not become ready within {timeout_s:g} s")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM (graceful drain), then wait."""
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def enhancer_onnx(out_dir: Path) -> Path:
    """The enhance family's default configuration (random init), exported as `ptx export` does."""
    return export_onnx(family_model("enhance"), out_dir / "enhance.onnx")


def measure(
    model: Path, size: int, clients: int, duration_s: float, warmup_s: float, c1_duration_s: float
) -> dict:
    """Every mode's runs in one ptx.bench document."""
    name = graph_io(load_onnx(model, external_data=False))[0][0].name
    shapes = [NamedShape(name, (1, 3, size, size))]
    runs, extra = [], {}
    for label, args in MODES.items():
        proc, url = spawn_server(f"enhance={model}", args)
        try:
            target = ServeTarget(url, "enhance", reference=str(model), label=label)
            levels = [(1, c1_duration_s), (clients, duration_s)]
            if label != "batching on":
                levels = levels[1:]
            for c, seconds in levels:
                doc = run_serve_bench(
                    target, [c], shapes, None, warmup_s, seconds, per_iteration=False
                )
                doc["runs"][0]["serve_args"] = args
                runs += doc["runs"]
                extra.setdefault("in_process", doc["in_process"])
            if label == "batching on":
                extra["c1_interleaved"] = interleaved_c1(prepare(target, shapes), c1_duration_s)
        finally:
            stop_server(proc)
    extra["target"] = {"model": str(model), "size": size, "modes": MODES}
    return report.document(runs, env_mod.capture(), extra)


def interleaved_c1(w: Workload, seconds: float, rounds: int = 5) -> dict:
    """p50 over HTTP at concurrency 1 against the same ONNX in-process, in alternating rounds.

    Both see the same machine state (a shared VM drifts by more than the server's cost),
    so their ratio is measured side by side rather than minutes apart.
    """
    http_ms: list[float] = []
    local_ms: list[float] = []
    try:
        for _ in range(rounds):
            phase = w.phase(1, seconds / rounds)
            if phase.outcome()["errors"] or phase.outcome()["wrong_results"]:
                raise ModelError(f"concurrency 1 run failed: {phase.outcome()}")
            http_ms += [it.latency_ms for it in phase.iterations()]
            local_ms += in_process_times(w.engine, w.feeds, seconds / rounds)
    finally:
        w.engine.close()
    http_p50, local_p50 = stats.median(http_ms), stats.median(local_ms)
    return {
        "rounds": rounds,
        "seconds": seconds,
        "backend": w.engine.backend,
        "http_p50_ms": http_p50,
        "in_process_p50_ms": local_p50,
        "ratio": http_p50 / local_p50,
    }


def findings(doc: dict, clients: int) -> list[str]:
    """The figures the issue asks for, as sentences."""
    by = {(r["label"], r["concurrency"]): r for r in doc["runs"]}
    on, off, c1 = (
        by[("batching on", clients)],
        by[("batching off", clients)],
        by[("batching on", 1)],
    )
    lines = []
    for r in (on, off):
        o, rss = r["outcome"], r["server_rss_mib"]
        growth = None if rss["end"] is None else rss["end"] - rss["warm"]
        half = second_half_growth(rss["samples"])
        lines.append(
            f"{r['label']}, {clients} clients: {r['throughput']['qps']:.1f} req/s, mean batch "
            f"{r['server']['mean_batch']:.2f}, p50 {r['latency']['median']:.1f} ms, p99 "
            f"{r['latency']['p99']:.1f} ms; {o['answered']} answers, {o['errors']} errors, "
            f"{o['wrong_results']} wrong, {o['overloaded_503']} x 503; server RSS "
            f"{_mib(rss['warm'])} MiB after warm-up, {_mib(rss['end'])} MiB at the end "
            f"({_mib(growth, '+')} MiB; {_mib(half, '+')} MiB over the run's second half)"
        )
    lines.append(
        f"dynamic batching: {on['throughput']['qps'] / off['throughput']['qps']:.2f}x the "
        f"throughput of batching off"
    )
    side = doc["c1_interleaved"]
    verdict = "meets" if side["ratio"] <= P50_TARGET else "misses"
    lines.append(
        f"concurrency 1, {side['rounds']} alternating rounds: p50 {side['http_p50_ms']:.2f} ms "
        f"over HTTP vs {side['in_process_p50_ms']:.2f} ms in-process ({side['backend']}) = "
        f"{side['ratio']:.3f}x ({verdict} the {P50_TARGET}x target); the timed run above "
        f"against a floor measured after it: {c1['p50_vs_in_process']:.3f}x"
    )
    return lines


def second_half_growth(samples: list[list[float]]) -> float | None:
    """MiB gained from the middle sample to the last: a leak keeps growing, warm-up does not."""
    if len(samples) < 2:
        return None
    return samples[-1][1] - samples[len(samples) // 2][1]


def _mib(v: float | None, sign: str = "") -> str:
    return "-" if v is None else format(v, f"{sign}.1f")


def write_results(doc: dict, out: Path, name: str, clients: int) -> list[Path]:
    """JSON, Markdown and the latency/throughput plot."""
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(doc, out / f"{name}.json")
    t = doc["target"]
    md = [
        f"# ptx serve under load: enhancer {t['size']}x{t['size']}, batching on and off",
        "",
        f"`python -m ptx.benchmarks.serving.load` on {doc['env'].get('hostname', '?')} "
        f"({doc['env'].get('cpu_cores', '?')} cores), {doc['created']}. Closed loop, "
        "one binary-tensor request in flight per client; every answer checked against the "
        "same ONNX run in-process.",
        "",
        "```",
        serve_table(doc["runs"]),
        "```",
        "",
        *(f"- {line}" for line in findings(doc, clients)),
        "",
    ]
    atomic_write_text(out / f"{name}.md", "\n".join(md))
    plot_series(group_runs(doc["runs"]), out / f"{name}.png", "ptx serve: enhancer under load")
    plot_memory(doc["runs"], out / f"{name}-memory.png")
    return [out / f"{name}.{ext}" for ext in ("json", "md", "png")] + [out / f"{name}-memory.png"]


def plot_memory(runs: list[dict], path: Path) -> Path:
    """Server resident memory over each run's timed seconds, one line per run."""
    require("matplotlib", "bench", "the memory plot").use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), constrained_layout=True)
    for r in runs:
        pts = r["server_rss_mib"]["samples"]
        if pts:
            ax.plot(
                *zip(*pts, strict=True),
                marker=".",
                label=f"{r['label']}, {r['concurrency']} clients",
            )
    ax.set_xlabel("seconds into the timed run (after warm-up)")
    ax.set_ylabel("server RSS (MiB)")
    ax.set_title("ptx serve memory under load (flat = no leak)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


@click.command()
@click.option("--model", type=click.Path(dir_okay=False), help="enhancer ONNX [family default]")
@click.option("--size", default=256, show_default=True, help="image side per request")
@click.option("--clients", default=64, show_default=True, help="closed-loop clients")
@click.option("--duration", default=60.0, show_default=True, help="measured seconds per run")
@click.option("--c1-duration", default=15.0, show_default=True, help="seconds at concurrency 1")
@click.option("--warmup", default=3.0, show_default=True, help="warm-up seconds per run")
@click.option("--out", help="results folder [default: $PTX_RESULTS_DIR or ./bench-results]")
@click.option("--name", default="vm-serve", show_default=True, help="results file stem")
def main(model, size, clients, duration, c1_duration, warmup, out, name) -> None:
    """Load `ptx serve` with batching on and off; write JSON, Markdown and a plot."""
    with tempfile.TemporaryDirectory(prefix="ptx-serve-load-") as tmp:
        path = Path(model) if model else enhancer_onnx(Path(tmp))
        doc = measure(path, size, clients, duration, warmup, c1_duration)
    written = write_results(doc, report.results_dir(out), name, clients)
    click.echo(serve_table(doc["runs"]))
    for line in findings(doc, clients):
        click.echo(f"- {line}")
    click.echo("wrote " + ", ".join(map(str, written)), err=True)
    problem = failures(doc)
    if problem:
        raise ModelError(problem)


if __name__ == "__main__":  # pragma: no cover
    run_script(main)

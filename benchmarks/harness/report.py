"""Benchmark reports: the versioned JSON document (see SCHEMA.md), a trtexec-like table, CSV.

Studies write into ``results_dir()``: ``--out``, else ``$PTX_RESULTS_DIR``, else
``./bench-results`` (an installed copy must not write into site-packages);
committed summaries and plots live in the repository's ``docs/results/``.

A document holds one environment and a list of runs (one per batch size, or
per backend in a suite); ``ptx bench compare`` reads documents back and
refuses any other schema version.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from ptx.benchmarks.harness.measure import BenchResult
from ptx.errors import InputError
from ptx.io import atomic_write_text

RESULTS_ENV = "PTX_RESULTS_DIR"
RESULTS_DIR = "bench-results"  # under the working directory, never the installed package
SCHEMA = "ptx.bench"
SCHEMA_VERSION = 1
STAT_KEYS = ("min", "max", "mean", "median", "p90", "p95", "p99")
CSV_COLUMNS = (
    "label",
    "backend",
    "precision",
    "device",
    "model",
    "batch",
    "streams",
    "queries",
    "wall_time_ms",
    "qps",
    "images_per_s",
    *(f"latency_{k}_ms" for k in STAT_KEYS),
    "enqueue_median_ms",
    "cov",
)


def results_dir(out: str | Path | None = None) -> Path:
    """Where a benchmark writes: ``out``, else $PTX_RESULTS_DIR, else ./bench-results."""
    return Path(out or os.environ.get(RESULTS_ENV) or RESULTS_DIR)


def run_dict(result: BenchResult, per_iteration: bool = True) -> dict:
    """One run of the document: settings, summaries in ms, throughput, CoV, iterations."""
    summary = result.summary()
    run = {
        "label": result.label,
        "backend": result.backend,
        "device": result.device,
        "precision": result.precision,
        "model": result.model,
        "batch": result.batch,
        "streams": result.streams,
        "inputs": result.inputs,
        "settings": result.settings,
        "warmup": {"queries": result.warmup_queries, "time_ms": result.warmup_ms},
        "queries": len(result.records),
        "wall_time_ms": result.wall_ms,
        "latency": _stats(summary["latency"]),
        "enqueue": _stats(summary["enqueue"]),
    }
    for phase in ("h2d", "compute", "d2h"):
        if phase in summary:
            run[phase] = _stats(summary[phase])
    run["throughput"] = summary["throughput"]
    run["cov"] = summary["cov"]
    run["cov_basis"] = summary["cov_basis"]
    run["warnings"] = list(result.warnings)
    if result.choice is not None:
        run["backend_choice"] = result.choice
    if per_iteration:
        run["iterations"] = [_iteration(r) for r in result.records]
    return run


def _stats(s: dict) -> dict:
    return {k: s[k] for k in (*STAT_KEYS, "std")}


def _iteration(r) -> dict:
    out = {
        "stream": r.stream,
        "start_ms": round(r.start_ms, 6),
        "end_ms": round(r.end_ms, 6),
        "enqueue_ms": round(r.enqueue_ms, 6),
        "latency_ms": round(r.latency_ms, 6),
    }
    out.update({f"{k}_ms": round(v, 6) for k, v in r.phases.items()})
    return out


def document(runs: list[dict], env: dict, extra: dict | None = None) -> dict:
    """The top-level JSON object: schema tag and version, creation time, env, runs."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "env": env,
        **(extra or {}),
        "runs": runs,
    }


def write_json(doc: dict, path: str | Path) -> Path:
    """Write the document atomically."""
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    return Path(path)


def load_json(path: str | Path) -> dict:
    """Read a document back, refusing files that are not ptx bench JSON of this version."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such benchmark JSON")
    try:
        doc = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not JSON ({exc}); give a file written by ptx bench --json") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise InputError(f'{p}: not a ptx bench report (no "schema": "{SCHEMA}")')
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(
            f"{p}: benchmark schema version {version}, this ptx reads version {SCHEMA_VERSION}; "
            f"re-run ptx bench with this version to compare"
        )
    if not isinstance(doc.get("runs"), list) or not doc["runs"]:
        raise InputError(f"{p}: report has no runs")
    return doc


def write_csv(runs: list[dict], path: str | Path) -> Path:
    """One row per run (summaries; per-iteration times live in the JSON)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        row = {
            k: run[k]
            for k in (
                "label",
                "backend",
                "precision",
                "device",
                "model",
                "batch",
                "streams",
                "queries",
                "wall_time_ms",
            )
        }
        row.update(run["throughput"])
        row.update({f"latency_{k}_ms": run["latency"][k] for k in STAT_KEYS})
        row["enqueue_median_ms"] = run["enqueue"]["median"]
        row["cov"] = run["cov"]
        writer.writerow(row)
    atomic_write_text(path, buf.getvalue())
    return Path(path)


def notes(doc: dict) -> list[str]:
    """The distinct ``note:`` warnings of a document's runs (sizes assumed for open dims)."""
    found = (w for r in doc["runs"] for w in r["warnings"] if w.startswith("note: "))
    return list(dict.fromkeys(found))


def _perf_line(name: str, s: dict) -> str:
    return (
        f"{name}: min = {s['min']:.4g} ms, max = {s['max']:.4g} ms, mean = {s['mean']:.4g} ms, "
        f"median = {s['median']:.4g} ms, p90 = {s['p90']:.4g} ms, p95 = {s['p95']:.4g} ms, "
        f"p99 = {s['p99']:.4g} ms"
    )


def summary_text(run: dict) -> str:
    """A trtexec-style performance summary for one run."""
    shapes = ", ".join(
        f"{n}={'x'.join(map(str, i['shape']))}:{i['dtype']}" for n, i in run["inputs"].items()
    )
    lines = [
        f"=== {run['label']}  batch {run['batch']}  streams {run['streams']}  ({run['model']}) ===",
        f"Inputs: {shapes}",
        f"Warmup: {run['warmup']['queries']} queries over {run['warmup']['time_ms']:.0f} ms; "
        f"timed: {run['queries']} queries over {run['wall_time_ms'] / 1e3:.3f} s",
        f"Throughput: {run['throughput']['qps']:.4g} qps, "
        f"{run['throughput']['images_per_s']:.4g} images/s",
        _perf_line("Latency", run["latency"]),
        _perf_line("Enqueue Time", run["enqueue"]),
    ]
    for phase, name in (
        ("h2d", "H2D Latency"),
        ("compute", "GPU Compute Time"),
        ("d2h", "D2H Latency"),
    ):
        if phase in run:
            lines.append(_perf_line(name, run[phase]))
    lines.append(f"Total Host Walltime: {run['wall_time_ms'] / 1e3:.4g} s")
    lines.append(f"Coefficient of variation ({run['cov_basis']}): {run['cov'] * 100:.2f}%")
    lines.extend(f"* {w}" for w in run["warnings"])
    return "\n".join(lines)


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table (right-aligned numbers)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def fmt(row):
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def sweep_table(runs: list[dict]) -> str:
    """One line per run: the figures a deployment engineer compares across batch sizes."""
    header = [
        "backend",
        "batch",
        "streams",
        "qps",
        "images/s",
        "median ms",
        "p90 ms",
        "p99 ms",
        "CoV %",
    ]
    rows = [
        [
            r["label"],
            r["batch"],
            r["streams"],
            f"{r['throughput']['qps']:.4g}",
            f"{r['throughput']['images_per_s']:.4g}",
            f"{r['latency']['median']:.4g}",
            f"{r['latency']['p90']:.4g}",
            f"{r['latency']['p99']:.4g}",
            f"{r['cov'] * 100:.1f}",
        ]
        for r in runs
    ]
    return table(rows, header)

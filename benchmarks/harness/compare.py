"""`ptx bench compare`: runs from several reports side by side, as ratios against the first.

Runs are matched by batch size and streams (clients, for server load runs): the
first report's run of the same series at that point is the baseline, else its
first run there. Speed-up is throughput / baseline throughput;
latency change is median (p99) / baseline median (p99), so below 1 is faster.
"""

from __future__ import annotations

from pathlib import Path

from ptx.benchmarks.harness.plots import plot_series, x_axis
from ptx.benchmarks.harness.report import load_json, table


def series_name(path: str | Path, run: dict, many_files: bool) -> str:
    """The run's label, prefixed by the file stem when runs come from several files."""
    return f"{Path(path).stem}:{run['label']}" if many_files else run["label"]


def compare(paths: list[str | Path]) -> list[dict]:
    """One row per run of every report, with ratios against the first report's matching run."""
    docs = [(p, load_json(p)) for p in paths]
    first = docs[0][1]["runs"]
    by_label = {(r["label"], r["batch"], r["streams"]): r for r in first}
    base: dict[tuple, dict] = {}
    for r in first:  # several series at one point: the first is the baseline
        base.setdefault((r["batch"], r["streams"]), r)
    rows = []
    for path, doc in docs:
        for run in doc["runs"]:
            key = (run["batch"], run["streams"])
            ref = by_label.get((run["label"], *key)) or base.get(key)
            rows.append(
                {
                    "file": str(path),
                    "series": series_name(path, run, len(docs) > 1),
                    "label": run["label"],
                    "batch": run["batch"],
                    "streams": run["streams"],
                    "qps": run["throughput"]["qps"],
                    "images_per_s": run["throughput"]["images_per_s"],
                    "median_ms": run["latency"]["median"],
                    "p90_ms": run["latency"]["p90"],
                    "p99_ms": run["latency"]["p99"],
                    "speedup": _ratio(run["throughput"]["qps"], ref and ref["throughput"]["qps"]),
                    "median_ratio": _ratio(
                        run["latency"]["median"], ref and ref["latency"]["median"]
                    ),
                    "p99_ratio": _ratio(run["latency"]["p99"], ref and ref["latency"]["p99"]),
                }
            )
    return rows


def compare_reports(paths: list[str | Path], plot: str | Path | None = None) -> list[dict]:
    """Compare the reports and, when ``plot`` is given, draw every series against batch size."""
    rows = compare(paths)
    if plot:
        series: dict[str, list[dict]] = {}
        for path in paths:
            doc = load_json(path)
            for run in doc["runs"]:
                name = series_name(path, run, len(paths) > 1)
                series.setdefault(name, []).append(run)
        x = x_axis([r for runs in series.values() for r in runs])
        series = {k: sorted(v, key=lambda r: r[x]) for k, v in series.items()}
        plot_series(series, plot, "ptx bench compare")
    return rows


def _ratio(value: float, ref: float | None) -> float | None:
    if not ref:
        return None
    return value / ref


def compare_text(rows: list[dict]) -> str:
    """The comparison as an aligned table (ratios as x-factors, '-' where no baseline run)."""

    def x(v):
        return "-" if v is None else f"{v:.3f}x"

    header = [
        "series",
        "batch",
        "streams",
        "images/s",
        "median ms",
        "p99 ms",
        "speed-up",
        "median vs first",
        "p99 vs first",
    ]
    body = [
        [
            r["series"],
            r["batch"],
            r["streams"],
            f"{r['images_per_s']:.4g}",
            f"{r['median_ms']:.4g}",
            f"{r['p99_ms']:.4g}",
            x(r["speedup"]),
            x(r["median_ratio"]),
            x(r["p99_ratio"]),
        ]
        for r in rows
    ]
    return table(body, header)

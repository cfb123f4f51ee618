"""Plots: latency percentiles and throughput against batch size, a series per backend/precision."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ptx.errors import require
from ptx.io import atomic_path

_PERCENTILE_STYLE = (
    ("median", "-", "o", "p50"),
    ("p90", "--", "s", "p90"),
    ("p99", ":", "^", "p99"),
)


XLABELS = {
    "batch": "batch size (images per query)",
    "concurrency": "concurrent clients (closed loop)",
}


def x_axis(runs: list[dict]) -> str:
    """What a plot's x axis is: clients for server load runs, else the batch size."""
    return "concurrency" if all("concurrency" in r for r in runs) else "batch"


def group_runs(runs: list[dict], key: str = "label") -> dict[str, list[dict]]:
    """Runs grouped into series by ``key``, each sorted along the x axis."""
    series: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        series[run[key]].append(run)
    x = x_axis(runs)
    return {k: sorted(v, key=lambda r: r[x]) for k, v in series.items()}


def plot_series(series: dict[str, list[dict]], path: str | Path, title: str) -> Path:
    """Write a two-panel PNG: latency p50/p90/p99 (ms) and throughput (images/s) vs batch.

    Server load runs (they carry ``concurrency``) are drawn against the number of clients.
    """
    mpl = require("matplotlib", "bench", "--plot")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_lat, ax_tp) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    x = x_axis([r for runs in series.values() for r in runs])
    batches = sorted({r[x] for runs in series.values() for r in runs})
    for i, runs in enumerate(series.values()):
        colour = colours[i % len(colours)]
        xs = [r[x] for r in runs]
        for key, style, marker, _ in _PERCENTILE_STYLE:
            ys = [r["latency"][key] for r in runs]
            ax_lat.plot(xs, ys, linestyle=style, marker=marker, color=colour)
        ys = [r["throughput"]["images_per_s"] for r in runs]
        ax_tp.plot(xs, ys, marker="o", color=colour)
    for ax in (ax_lat, ax_tp):
        if len(batches) > 1 and batches[-1] / batches[0] >= 8:
            ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_xlabel(XLABELS[x])
        ax.grid(True, alpha=0.3)
    ax_lat.set_ylabel("latency per query (ms)" if x == "batch" else "latency per request (ms)")
    ax_lat.set_title("Latency percentiles (lower is better)")
    lat = [r["latency"][k] for runs in series.values() for r in runs for k in ("median", "p99")]
    if min(lat) > 0 and max(lat) / min(lat) > 20:
        ax_lat.set_yscale("log")  # batch 1 and batch 32 latencies stay readable on one axis
    else:
        ax_lat.set_ylim(bottom=0)
    _legends(ax_lat, list(series), colours)
    ax_tp.set_ylabel("throughput (images/s)")
    ax_tp.set_title("Throughput (higher is better)")
    ax_tp.set_ylim(bottom=0)
    _legends(ax_tp, list(series), colours, percentiles=False)
    fig.suptitle(title)
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return out


def _legends(ax, names: list[str], colours: list[str], percentiles: bool = True) -> None:
    """Colour = series (backend/precision); line style = percentile, in a second legend."""
    from matplotlib.lines import Line2D

    by_series = [
        Line2D([], [], color=colours[i % len(colours)], marker="o", label=n)
        for i, n in enumerate(names)
    ]
    first = ax.legend(
        handles=by_series,
        fontsize=8,
        loc="upper left" if percentiles else "best",
        title="series",
        title_fontsize=8,
    )
    if not percentiles:
        return
    ax.add_artist(first)
    by_pct = [
        Line2D([], [], color="0.3", linestyle=style, marker=marker, label=tag)
        for _, style, marker, tag in _PERCENTILE_STYLE
    ]
    ax.legend(handles=by_pct, fontsize=8, loc="lower right", title="percentile", title_fontsize=8)

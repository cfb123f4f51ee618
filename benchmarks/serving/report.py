"""Text for `ptx bench --url` runs: the trtexec-style summary, the server side, a table."""

from __future__ import annotations

from ptx.benchmarks.harness.report import summary_text, table


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def serve_summary(run: dict) -> str:
    """The harness summary of one concurrency level, then answers, server split and memory."""
    out = run["outcome"]
    lines = [
        summary_text(run).replace(f"streams {run['streams']}", f"concurrency {run['concurrency']}"),
        f"Answers: {out['answered']} answered ({out['wrong_results']} wrong), "
        f"{out['errors']} errors, {out['overloaded_503']} x 503 (overload)",
    ]
    s = run.get("server")
    if s:
        lines.append(
            f"Server (mean per request): request {_ms(s['request_ms'])} ms = queue "
            f"{_ms(s['queue_ms'])} + compute input {_ms(s['compute_input_ms'])} + infer "
            f"{_ms(s['compute_infer_ms'])} + output {_ms(s['compute_output_ms'])} ms; "
            f"{s['executions']} executions, mean batch {_ms(s['mean_batch'])}"
        )
    rss = run.get("server_rss_mib") or {}
    if rss.get("end") is not None:
        lines.append(
            f"Server memory (RSS): start {_ms(rss['start'])}, after warm-up {_ms(rss['warm'])}, "
            f"end {_ms(rss['end'])} MiB"
        )
    if "p50_vs_in_process" in run:
        lines.append(f"p50 / in-process p50: {run['p50_vs_in_process']:.3f}x")
    return "\n".join(lines)


def serve_table(runs: list[dict]) -> str:
    """One line per concurrency level, as perf_analyzer's summary."""
    header = [
        "series",
        "clients",
        "req/s",
        "images/s",
        "p50 ms",
        "p90 ms",
        "p95 ms",
        "p99 ms",
        "queue ms",
        "infer ms",
        "mean batch",
        "errors",
        "wrong",
        "503",
    ]
    rows = []
    for r in runs:
        s = r.get("server") or {}
        rows.append(
            [
                r["label"],
                r["concurrency"],
                f"{r['throughput']['qps']:.4g}",
                f"{r['throughput']['images_per_s']:.4g}",
                *(f"{r['latency'][k]:.4g}" for k in ("median", "p90", "p95", "p99")),
                _ms(s.get("queue_ms")),
                _ms(s.get("compute_infer_ms")),
                _ms(s.get("mean_batch")),
                r["outcome"]["errors"],
                r["outcome"]["wrong_results"],
                r["outcome"]["overloaded_503"],
            ]
        )
    return table(rows, header)

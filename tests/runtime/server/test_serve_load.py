"""The closed-loop load generator against a live server: counts, checks and the server split."""

from __future__ import annotations

import os

from ptx.benchmarks.serve_load import line, run_load


def test_short_closed_loop_run_checks_every_answer(model_files, srv):
    server = srv.start({"affine": model_files["affine"]}, max_batch=4, max_delay_us=5000)
    try:
        report = run_load(
            server.url, "affine", model_files["affine"], (1, 3, 8, 8),
            concurrency=3, duration_s=0.6, warmup_s=0.2, pid=os.getpid(),
        )  # fmt: skip
    finally:
        server.stop()
    assert report["requests"] > 0 and report["errors"] == 0 and report["wrong_results"] == 0
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"]
    split = report["server"]
    assert split["executions"] > 0 and split["mean_batch"] >= 1.0
    assert split["compute_infer_ms"] > 0 and split["queue_ms"] >= 0
    assert report["server_rss_mib"]["end"] > 0
    assert line(report).startswith("c=3: ")

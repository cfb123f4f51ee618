"""The serving load benchmark, CI-sized: two real `ptx serve` processes, every answer checked."""

from __future__ import annotations

from click.testing import CliRunner
from PIL import Image

from ptx.benchmarks.harness.report import load_json
from ptx.benchmarks.serving.load import main


def test_batching_on_and_off_with_zero_errors_and_flat_memory(dynamic_onnx, tmp_path):
    out = tmp_path / "results"
    result = CliRunner().invoke(
        main,
        ["--model", str(dynamic_onnx), "--size", "16", "--clients", "6", "--duration", "1.5",
         "--c1-duration", "0.5", "--warmup", "0.5", "--out", str(out), "--name", "serve"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = load_json(out / "serve.json")
    runs = {(r["label"], r["concurrency"]): r for r in doc["runs"]}
    assert set(runs) == {("batching on", 1), ("batching on", 6), ("batching off", 6)}
    for run in runs.values():
        outcome = run["outcome"]
        assert outcome["answered"] > 0 and outcome["answered"] == run["queries"]
        assert outcome["errors"] == outcome["wrong_results"] == outcome["overloaded_503"] == 0
        rss = run["server_rss_mib"]
        assert rss["warm"] > 0 and rss["end"] - rss["warm"] < 64  # no leak per request
    assert runs[("batching off", 6)]["server"]["mean_batch"] == 1.0
    assert runs[("batching on", 6)]["server"]["mean_batch"] >= 1.0
    assert runs[("batching on", 1)]["p50_vs_in_process"] > 0
    md = (out / "serve.md").read_text()
    assert "dynamic batching:" in md and "alternating rounds: p50" in md
    assert doc["c1_interleaved"]["ratio"] > 0 and doc["c1_interleaved"]["rounds"] == 5
    assert (out / "serve-memory.png").is_file()
    assert len(runs[("batching on", 6)]["server_rss_mib"]["samples"]) >= 2  # warm, then 1/s
    with Image.open(out / "serve.png") as im:
        assert im.size[0] > 600

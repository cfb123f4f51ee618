"""The batch-steps study: one tiny real run (both output ways, bytes checked equal)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ptx.benchmarks.studies.batch_steps import STEPS, main


def test_tiny_run_times_every_step_and_both_ways_write_the_same_bytes(dynamic_onnx):
    res = CliRunner().invoke(main, ["--onnx", str(dynamic_onnx), "--size", "16", "--images", "4"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    assert result["bytes_equal"] is True
    assert set(result["ms"]) == set(STEPS)
    assert all(ms > 0 for ms in result["ms"].values())
    assert (
        result["saved_ms"]
        == result["ms"]["pixels_encode_before"] - result["ms"]["pixels_encode_after"]
    )

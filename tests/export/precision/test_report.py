"""`ptx convert --report` / `--json`: per node precision, calibrated range, why FP32."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from click.testing import CliRunner

from ptx.cli import main

from .test_debug import offset_model


def _convert(tmp_path, *flags):
    onnx.save(offset_model(), str(tmp_path / "m.onnx"))
    args = ["convert", str(tmp_path / "m.onnx"), str(tmp_path / "m16.onnx"), *flags]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_report_table_names_every_node_with_range_and_reason(tmp_path):
    lines = _convert(tmp_path, "--report").splitlines()
    assert "precision debugging kept 2" in lines[0]
    assert lines[1].split() == ["node", "op", "precision", "max|in|", "max|out|", "why", "FP32"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"double", "add_big", "sub_big", "relu", "halve", "shift"}
    assert rows["add_big"].split()[2] == "fp32" and "precision debugging" in rows["add_big"]
    assert rows["relu"].split()[2] == "fp16" and rows["relu"].rstrip() == rows["relu"]
    assert float(rows["add_big"].split()[4]) > 1000  # calibrated max |out|: 1000 + 2x


def test_json_carries_the_node_table(tmp_path):
    data = json.loads(_convert(tmp_path, "--json"))
    table = {r["node"]: r for r in data["node_table"]}
    assert table["sub_big"]["precision"] == "fp32" and table["sub_big"]["why_fp32"]
    assert table["double"]["max_abs_out"] <= 2.0 and table["double"]["why_fp32"] == ""
    assert data["debug"]["added_fp32"] and data["check"]["passed"]


def test_no_debug_precision_fails_one_line(tmp_path):
    onnx.save(offset_model(), str(tmp_path / "m.onnx"))
    args = ["convert", str(tmp_path / "m.onnx"), str(tmp_path / "m16.onnx")]
    result = CliRunner().invoke(main, [*args, "--no-debug-precision"])
    assert result.exit_code != 0 and "parity check failed" in result.stderr
    assert not (tmp_path / "m16.onnx").exists()


def test_export_report_prints_the_table_and_needs_fp16(tmp_path):
    net = Path(__file__).parents[1] / "pytorch" / "fixtures" / "conv_model.py"
    args = ["export", "--model", f"{net}:make_net", "--input", "x:1x3x32x32",
            "--out", str(tmp_path / "n.onnx"), "--report"]  # fmt: skip
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code != 0 and "--report go with --precision fp16" in refused.stderr
    result = CliRunner().invoke(main, [*args, "--precision", "fp16"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if line.startswith("node "))
    assert "why FP32" in header and "max|out|" in header

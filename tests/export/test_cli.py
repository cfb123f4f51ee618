"""The export commands: one module each under ptx.export.cli, cheap to import, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from ptx.cli import COMMANDS, main

EXPORT_COMMANDS = {
    "export": "ptx.export.cli.export:export_cmd",
    "convert": "ptx.export.cli.convert:convert",
    "build": "ptx.export.cli.build:build",
    "inspect": "ptx.export.cli.inspect:inspect_cmd",
    "triton": "ptx.export.cli.triton:triton",
}


def test_each_command_has_its_own_module_and_the_table_points_there():
    for name, target in EXPORT_COMMANDS.items():
        assert COMMANDS[name] == target
        module, attr = target.split(":")
        cmd = getattr(__import__(module, fromlist=[attr]), attr)
        assert cmd.name == name


def test_command_modules_import_no_heavy_package():
    # `ptx --help` imports every command module: torch, ONNX Runtime and TensorRT stay out.
    code = (
        "import sys, importlib\n"
        f"for target in {list(EXPORT_COMMANDS.values())!r}:\n"
        "    importlib.import_module(target.split(':')[0])\n"
        "heavy = ('torch', 'onnx', 'onnxruntime', 'tensorrt', 'tensorrt_rtx')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("size", ["8", "8x0", "axb", "1x8x8"])
def test_size_is_parsed_by_the_shared_vocabulary(tmp_path, size):
    out = tmp_path / "m.onnx"
    args = ["export", "--checkpoint", str(tmp_path), "--size", size, "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --size '{size}'") and result.stderr.count("\n") == 1
    assert not out.exists()


def test_every_export_command_has_help():
    for name in EXPORT_COMMANDS:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, result.output

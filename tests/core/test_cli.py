"""The `ptx` command: help on a bare import, lazy sub-commands, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from ptx.cli import COMMANDS, main, register
from ptx.errors import ModelError


def test_help_lists_every_command_without_importing_torch() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from ptx.cli import main;"
        "r = CliRunner().invoke(main, ['--help']); print(r.output);"
        "sys.exit(3 if 'torch' in sys.modules else r.exit_code)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in COMMANDS:
        assert name in done.stdout


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out += _paths(cmd, (*prefix, name))
    return out


def test_every_wired_command_imports_and_has_help() -> None:
    paths = _paths(main)
    assert ("run", "enhance") in paths and ("train", "vae") in paths and ("eval", "style") in paths
    for path in paths:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_ptx_error_becomes_one_line_and_exit_2() -> None:
    @click.command("boom")
    def boom() -> None:
        raise ModelError("m.onnx: not a readable ONNX model")

    import types

    module = types.ModuleType("ptx_test_boom")
    module.boom = boom
    sys.modules["ptx_test_boom"] = module
    register("boom", "ptx_test_boom:boom")
    try:
        result = CliRunner().invoke(main, ["boom"])
    finally:
        main.lazy.pop("boom")
    assert result.exit_code == 2
    assert result.output.strip() == "error: m.onnx: not a readable ONNX model"


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "ptx" in result.output


def test_a_bad_png_level_is_one_line_before_any_command_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PTX_PNG_LEVEL", "fast")
    args = ["run", "enhance", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert "error: PTX_PNG_LEVEL must be an integer 0-9, got 'fast'" in res.output
    assert "no such file" not in res.output and not (tmp_path / "out").exists()

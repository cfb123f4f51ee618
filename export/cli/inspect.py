"""`ptx inspect` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.export.cli._common import describe, emit
from ptx.export.onnx_inspect import inspect_model


@click.command("inspect")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def inspect_cmd(model: Path, as_json: bool) -> None:
    """Show a model's IO, profiles, ModelSpec and precision (.onnx or .plan)."""
    info = inspect_model(model)
    emit(info, as_json, describe(info))

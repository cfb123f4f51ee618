"""`ptx export` (thin: parse, call one function, print)."""

from __future__ import annotations

import click


@click.command("export")
def export_cmd() -> None:
    """Export a checkpoint or a user model to ONNX."""

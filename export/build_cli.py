"""`ptx convert`, `ptx build`, `ptx inspect`, `ptx triton` (thin: parse, call, print)."""

from __future__ import annotations

import click


@click.command("convert")
def convert() -> None:
    """Convert an FP32 ONNX model to mixed-precision FP16."""


@click.command("build")
def build() -> None:
    """Build a TensorRT engine (.plan) from ONNX."""


@click.command("inspect")
def inspect_cmd() -> None:
    """Show a model's IO, profiles, ModelSpec and precision."""


@click.command("triton")
def triton() -> None:
    """Write a Triton model repository."""

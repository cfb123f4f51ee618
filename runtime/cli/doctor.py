"""`ptx doctor` (thin: collect the report, print it). The probes are ptx.runtime.doctor's."""

from __future__ import annotations

import json

import click

from ptx.runtime.doctor import collect, render


@click.command("doctor")
@click.option("--no-cache", is_flag=True, help="Recompile the kernels instead of using the cache.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor_cmd(no_cache: bool, as_json: bool) -> None:
    """What this machine can run: GPU, driver, CUDA, TensorRT, ONNX Runtime, NVRTC, kernels."""
    report = collect(cache=not no_cache)
    click.echo(json.dumps(report, indent=2) if as_json else render(report))

"""`ptx build` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.export.cli._common import emit
from ptx.export.trt.build import build_engine


@click.command("build")
@click.option("--onnx", "onnx_path", required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--shapes",
    multiple=True,
    help="NAME:MIN,OPT,MAX e.g. x:1x3x64x64,8x3x256x256,32x3x512x512 (repeat per input).",
)
@click.option("--timing-cache", type=click.Path(path_type=Path))
@click.option("--opt-level", type=click.IntRange(0, 5))
@click.option("--workspace", "workspace_mib", type=click.IntRange(1), help="MiB.")
@click.option(
    "--trt",
    "flavour",
    type=click.Choice(["auto", "tensorrt", "rtx"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--compute-capability",
    "ccs",
    multiple=True,
    help="TensorRT-RTX target, e.g. 8.6 (repeatable; default: the library's set).",
)
@click.option("--verbose", is_flag=True, help="Show TensorRT's info messages.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def build(
    onnx_path: Path,
    out: Path,
    shapes: tuple[str, ...],
    timing_cache: Path | None,
    opt_level: int | None,
    workspace_mib: int | None,
    flavour: str,
    ccs: tuple[str, ...],
    verbose: bool,
    as_json: bool,
) -> None:
    """Build a strongly typed TensorRT engine (.plan + .plan.json sidecar) from ONNX."""
    report = build_engine(
        onnx_path,
        out,
        shapes=list(shapes) or None,
        timing_cache=timing_cache,
        opt_level=opt_level,
        workspace_mib=workspace_mib,
        flavour=flavour,
        compute_capabilities=list(ccs) or None,
        verbose=verbose,
    )
    emit(report.to_dict(), as_json, report.summary())

"""`ptx export` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptx.errors import InputError
from ptx.export.pytorch.export import export_checkpoint, export_user_model
from ptx.export.pytorch.parity import Tolerance
from ptx.tensors import parse_size


@click.command("export")
@click.option("--checkpoint", type=click.Path(path_type=Path), help="A ptx checkpoint folder.")
@click.option("--model", "target", help="A user model: path/to/file.py:factory or pkg.mod:factory.")
@click.option(
    "--input", "inputs", multiple=True,
    help="With --model: NAME:DIMS[:DTYPE[:HIGH]], e.g. x:1x3x256x256 or label:1:int64:10.",
)  # fmt: skip
@click.option("--weights", type=click.Path(path_type=Path), help="With --model: .safetensors/.pt.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The .onnx to write.")
@click.option(
    "--dynamic-hw/--static-hw", default=None,
    help="Make H and W of 4-D inputs dynamic (default: on for image checkpoints, off for --model).",
)  # fmt: skip
@click.option("--no-dynamic-batch", is_flag=True, help="Keep the batch axis at the example's.")
@click.option("--size", help="With --checkpoint: example (or static) HxW; default: spec's opt.")
@click.option("--batch", default=1, show_default=True, help="With --checkpoint: example batch.")
@click.option("--opset", default=18, show_default=True, help="ONNX opset (17 uses TorchScript).")
@click.option("--exporter", type=click.Choice(["auto", "dynamo", "torchscript"]), default="auto")
@click.option("--precision", type=click.Choice(["fp32", "fp16"]), default="fp32", show_default=True)
@click.option("--calib", type=click.Path(path_type=Path), help="fp16: images to calibrate on.")
@click.option("--fp16-io", is_flag=True, help="fp16: FP16 inputs/outputs (default FP32 I/O).")
@click.option("--autocast", type=click.Choice(["ptx", "modelopt"]), default="ptx", help="fp16.")
@click.option(
    "--debug-precision/--no-debug-precision", "auto_debug", default=True,
    help="fp16: when the calibrated policy fails parity, search the nodes to keep FP32 too.",
)  # fmt: skip
@click.option("--report", is_flag=True, help="fp16: per node precision, range, why FP32.")
@click.option("--max-abs", type=float, default=1e-3, show_default=True, help="Parity bar.")
@click.option("--rel-l2", type=float, default=1e-4, show_default=True, help="Parity bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def export_cmd(
    checkpoint: Path | None,
    target: str | None,
    inputs: tuple[str, ...],
    weights: Path | None,
    out: Path,
    dynamic_hw: bool | None,
    no_dynamic_batch: bool,
    size: str | None,
    batch: int,
    opset: int,
    exporter: str,
    precision: str,
    calib: Path | None,
    fp16_io: bool,
    autocast: str,
    auto_debug: bool,
    report: bool,
    max_abs: float,
    rel_l2: float,
    as_json: bool,
) -> None:
    """Export a checkpoint or a user model to ONNX, checked for parity against PyTorch."""
    if (checkpoint is None) == (target is None):
        raise InputError("give exactly one of --checkpoint DIR or --model FILE.py:FACTORY")
    if checkpoint is not None and (inputs or weights):
        raise InputError("--input and --weights go with --model; a checkpoint carries its own")
    if precision == "fp32" and (calib or fp16_io or autocast != "ptx" or report):
        raise InputError("--calib, --fp16-io, --autocast and --report go with --precision fp16")
    if target is not None and (size or batch != 1):
        raise InputError("--size and --batch go with --checkpoint; --model takes --input shapes")
    kw = dict(
        dynamic_batch=not no_dynamic_batch,
        opset=opset,
        exporter=exporter,
        precision=precision,
        fp16_options={
            "calib": calib,
            "fp16_io": fp16_io,
            "autocast": autocast,
            "auto_debug": auto_debug,
        },
        tolerance=Tolerance(max_abs=max_abs, rel_l2=rel_l2),
        progress=not as_json,
    )
    if checkpoint is not None:
        done = export_checkpoint(
            checkpoint, out, dynamic_hw, batch, parse_size(size) if size else None, **kw
        )
    else:
        done = export_user_model(target, inputs, out, weights, dynamic_hw=bool(dynamic_hw), **kw)
    if as_json:
        click.echo(json.dumps(done.to_dict(), indent=2, default=str))
        return
    for note in done.notes:
        click.echo(f"note: {note}", err=True)
    if done.parity is not None:
        click.echo(done.parity.summary())
    if done.fp16 is not None and hasattr(done.fp16, "summary"):
        click.echo(done.fp16.summary())
        if report:
            click.echo(done.fp16.table())
    click.echo(done.summary())

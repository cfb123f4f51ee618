"""`ptx convert` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.errors import InputError
from ptx.export.cli._common import emit
from ptx.export.precision.convert import AUTOCAST, DEFAULT_SAFE_BOUND, convert_fp16
from ptx.export.precision.int8 import quantize_int8

DEFAULT_SAMPLES = {"fp16": 8, "int8": 16}


@click.command("convert")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path), required=False)
@click.option("--precision", type=click.Choice(["fp16", "int8"]), default="fp16", show_default=True,
              help="fp16: calibrated mixed FP16; int8: NNCF post-training quantization (CPU, "
              "OpenVINO), written beside SRC as NAME.int8.onnx unless DST is given.")  # fmt: skip
@click.option(
    "--calib", "--calibration", "calib", type=click.Path(path_type=Path),
    help="Folder of images to calibrate on (default: synthetic catalogue pictures).",
)  # fmt: skip
@click.option("--fp16-io", is_flag=True, help="Make float inputs/outputs FP16 too.")
@click.option("--autocast", type=click.Choice(list(AUTOCAST)), default="ptx", show_default=True)
@click.option("--samples", type=click.IntRange(1), help="Calibration inputs [fp16: 8, int8: 16].")
@click.option("--safe-bound", type=float, default=None, help="Largest |activation| left in FP16.")
@click.option("--keep-fp32", "keep", multiple=True, help="Node name to keep FP32 (repeatable).")
@click.option(
    "--debug-precision/--no-debug-precision", "auto_debug", default=True, show_default=True,
    help="When the calibrated policy fails parity, search the nodes to keep FP32 too "
    "(int8: NNCF's accuracy control).",
)  # fmt: skip
@click.option("--report", is_flag=True, help="Per node: precision, calibrated range, why FP32.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def convert(
    src: Path,
    dst: Path | None,
    precision: str,
    calib: Path | None,
    fp16_io: bool,
    autocast: str,
    samples: int | None,
    safe_bound: float | None,
    keep: tuple[str, ...],
    auto_debug: bool,
    report: bool,
    as_json: bool,
) -> None:
    """Convert an FP32 ONNX model to calibrated FP16, or to INT8 (checked for parity)."""
    samples = samples or DEFAULT_SAMPLES[precision]
    if precision == "int8":
        fp16_only = {"--fp16-io": fp16_io, "--keep-fp32": keep, "--safe-bound": safe_bound,
                     "--autocast modelopt": autocast != "ptx", "--report": report}  # fmt: skip
        given = [flag for flag, value in fp16_only.items() if value]
        if given:
            raise InputError(f"{', '.join(given)}: FP16 options; --precision int8 takes none")
        result = quantize_int8(src, dst, calibration=calib, samples=samples, restore=auto_debug)
        emit(result.to_dict(), as_json, result.summary())
        return
    result = convert_fp16(
        src,
        dst or src.with_name(f"{src.stem}.fp16.onnx"),
        calib=calib,
        fp16_io=fp16_io,
        autocast=autocast,
        samples=samples,
        safe_bound=safe_bound or DEFAULT_SAFE_BOUND,
        block_nodes=set(keep),
        auto_debug=auto_debug,
    )
    data = result.to_dict()
    if not (report or as_json):
        data.pop("node_table")
    line = result.summary()
    emit(data, as_json, f"{line}\n{result.table()}" if report else line)

"""`ptx convert`, `ptx build`, `ptx inspect`, `ptx triton` (thin: parse, call, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _emit(data: dict, as_json: bool, line: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else line)


@click.command("convert")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--precision", type=click.Choice(["fp16"]), default="fp16", show_default=True)
@click.option("--calib", type=click.Path(path_type=Path), help="Folder of images to calibrate on.")
@click.option("--fp16-io", is_flag=True, help="Make float inputs/outputs FP16 too.")
@click.option(
    "--autocast", type=click.Choice(["ptx", "modelopt"]), default="ptx", show_default=True
)
@click.option("--samples", type=click.IntRange(1), default=8, show_default=True)
@click.option("--safe-bound", type=float, default=None, help="Largest |activation| left in FP16.")
@click.option("--keep-fp32", "keep", multiple=True, help="Node name to keep FP32 (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def convert(
    src: Path,
    dst: Path,
    precision: str,
    calib: Path | None,
    fp16_io: bool,
    autocast: str,
    samples: int,
    safe_bound: float | None,
    keep: tuple[str, ...],
    as_json: bool,
) -> None:
    """Convert an FP32 ONNX model to calibrated mixed-precision FP16 (checked for parity)."""
    from ptx.export.precision.convert import DEFAULT_SAFE_BOUND, convert_fp16

    report = convert_fp16(
        src,
        dst,
        calib=calib,
        fp16_io=fp16_io,
        autocast=autocast,
        samples=samples,
        safe_bound=safe_bound or DEFAULT_SAFE_BOUND,
        block_nodes=set(keep),
    )
    _emit(report.to_dict(), as_json, report.summary())


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
    from ptx.export.trt import build_engine

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
    _emit(report.to_dict(), as_json, report.summary())


def _describe(info: dict) -> str:
    if info["kind"] == "plan":
        side = info.get("sidecar") or {}
        head = (
            f"{info['path']}: TensorRT plan, {info['bytes']} bytes, "
            f"{side.get('trt_module', '?')} {side.get('trt_version', '?')}, "
            f"targets {', '.join(side.get('compute_capabilities', [])) or '?'}"
        )
        io = side.get("inputs", []) + side.get("outputs", [])
        lines = [head] + [f"  {t['name']}: {t['dtype']} {t['shape']}" for t in io]
        engine = info["engine"]
        lines.append(
            f"  engine: {len(engine.get('layers', []))} layers"
            if engine["read"]
            else f"  engine not read: {engine['reason']}"
        )
        return "\n".join(lines + ([f"  {info['note']}"] if info.get("note") else []))
    p = info["precision"]
    lines = [
        f"{info['path']}: ONNX, {info['nodes']} nodes ({p['fp16']} FP16, {p['fp32']} FP32, "
        f"{p['cast']} Cast), task {(info['spec'] or {}).get('task', 'unknown (no spec)')}"
    ]
    lines += [f"  in  {t['name']}: {t['dtype']} {t['shape']}" for t in info["inputs"]]
    lines += [f"  out {t['name']}: {t['dtype']} {t['shape']}" for t in info["outputs"]]
    lines.append("  ops: " + ", ".join(f"{k} {v}" for k, v in info["ops"].items()))
    return "\n".join(lines)


@click.command("inspect")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def inspect_cmd(model: Path, as_json: bool) -> None:
    """Show a model's IO, profiles, ModelSpec and precision (.onnx or .plan)."""
    from ptx.export.onnx_inspect import inspect_model

    info = inspect_model(model)
    _emit(info, as_json, _describe(info))


@click.command("triton")
@click.option("--model", "model", required=True, type=click.Path(path_type=Path))
@click.option("--repo", required=True, type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Model name in the repository (default: file stem).")
@click.option("--max-batch", type=click.IntRange(0), default=32, show_default=True)
@click.option("--instances", type=click.IntRange(1), default=2, show_default=True)
@click.option(
    "--dynamic-batching-delay-us",
    "delay_us",
    type=click.IntRange(0),
    default=500,
    show_default=True,
)
@click.option("--kind", type=click.Choice(["gpu", "cpu"]), default="gpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def triton(
    model: Path,
    repo: Path,
    name: str | None,
    max_batch: int,
    instances: int,
    delay_us: int,
    kind: str,
    as_json: bool,
) -> None:
    """Write a Triton model repository entry (config.pbtxt + 1/model.plan|onnx)."""
    from ptx.export.triton import write_repository

    report = write_repository(
        model,
        repo,
        name=name,
        max_batch=max_batch,
        instances=instances,
        delay_us=delay_us,
        kind=kind,
    )
    _emit(
        report.to_dict(),
        as_json,
        f"{report.config}: {report.platform}, max_batch_size {report.max_batch_size}",
    )

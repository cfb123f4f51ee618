"""`ptx run enhance` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json

import click

from ptx.errors import ImageError, InputError
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.cli._common import (
    BACKEND_NAMES,
    auto_trial_file,
    check_trial_shapes,
    convention,
    image_trial_shapes,
    precision_option,
    print_skipped,
    run_trial_shape_option,
    trial_shapes,
)
from ptx.runtime.pipelines.enhance import SHIPPED_MODEL, check_strength, enhance_path
from ptx.runtime.pipelines.enhance_tiles import DEFAULT_MAX_PIXELS
from ptx.runtime.pipelines.gpu import enhance_path_gpu


@click.command("enhance")
@click.option(
    "--model", default=str(SHIPPED_MODEL), show_default="the enhancer that ships with ptx",
    type=click.Path(), help="enhance.onnx (or a .plan)",
)  # fmt: skip
@click.option("--input", "input_", required=True, type=click.Path(), help="image file or folder")
@click.option("--out", required=True, type=click.Path(), help="output folder (names are kept)")
@click.option("--batch", default=1, show_default=True, help="images per batch (same size only)")
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="cpu, or cuda[:N]: decode on the host, resize/normalise and the model on the GPU",
)
@click.option("--threads", type=int, default=None, help="intra-op threads [physical cores]")
@click.option(
    "--backend",
    type=click.Choice(BACKEND_NAMES),
    default="auto",
    show_default=True,
    help="auto: on the CPU the faster of onnxruntime and openvino (measured once, cached)",
)
@precision_option()
@run_trial_shape_option()
@click.option("--range", "range_", default=None, help="foreign model: value range LO,HI [0,1]")
@click.option("--mean", default=None, help="foreign model: mean, 1 or 3 values [0]")
@click.option("--std", default=None, help="foreign model: std, 1 or 3 values [1]")
@click.option("--bgr", is_flag=True, help="foreign model: channels in BGR order")
@click.option("--nhwc", is_flag=True, help="foreign model: NHWC layout")
@click.option(
    "--strength", type=float, default=1.0, show_default=True,
    help="how much of the edit to apply, 0..1 (out = in + s * (model - in))",
)  # fmt: skip
@click.option(
    "--max-pixels", type=int, default=None,
    help="photos over this many pixels run in overlapping, blended tiles with one tone "
    "curve (0: never) [the largest size the model's spec declares; 1024x1024 for the "
    f"shipped enhancer; else {DEFAULT_MAX_PIXELS}]; CPU path",
)  # fmt: skip
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def enhance_cmd(
    model, input_, out, batch, device, threads, backend, precision, trial_shape, range_, mean,
    std, bgr, nhwc, strength, max_pixels, no_progress, as_json,
) -> None:  # fmt: skip
    """Enhance a photo or a folder of photos; prints images, failures, images/s."""
    check_strength(strength)  # before the model loads: a typo costs nothing
    conv = convention(range_, mean, std, bgr, nhwc)
    shapes = trial_shapes(trial_shape)
    if device == "cpu":
        # The trial's pick can differ by size: by default, the size the first photo runs at.
        trial = shapes or image_trial_shapes(
            auto_trial_file(model, backend, device, precision), input_, out, batch, conv,
            max_pixels,
        )  # fmt: skip
        engine = load(
            model, threads=threads, backend=backend, precision=precision,
            trial_shapes=trial or None, **quiet_pool(backend),
        )  # fmt: skip
        options = {"max_pixels": max_pixels}
        run = enhance_path
    else:
        if max_pixels is not None:
            raise InputError("--max-pixels (tiling) runs on the CPU path only; drop it")
        engine = load(model, device=device, threads=threads, backend=backend, precision=precision)
        options, run = {}, enhance_path_gpu
    check_trial_shapes(engine, shapes)
    summary = run(
        engine, input_, out, batch=batch, progress=not no_progress, conv=conv,
        strength=strength, **options,
    )  # fmt: skip
    if as_json:
        data = summary.to_dict()
        if engine.choice is not None:
            data["backend_choice"] = engine.choice.to_dict()
        click.echo(json.dumps(data, indent=2))
    else:
        print_skipped(summary.skipped)
        if engine.choice is not None:
            click.echo(engine.choice.line(), err=True)
        click.echo(summary.line())
    if summary.images == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every input failed ({summary.failed}); first: {first}")

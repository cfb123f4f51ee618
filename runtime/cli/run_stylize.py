"""`ptx run stylize` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json

import click

from ptx.errors import ImageError
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.cli._common import (
    ModelFile,
    auto_trial_file,
    check_trial_shapes,
    image_trial_shapes,
    precision_option,
    print_skipped,
    run_trial_shape_option,
    trial_shapes,
)
from ptx.runtime.pipelines.enhance import image_convention
from ptx.runtime.pipelines.stylize import min_side, stylize_path


def _sides(file: ModelFile, shape: tuple[int, ...]) -> tuple[int, ...]:
    """(H, W) of an image input's shape in the model's layout."""
    return shape[1:3] if image_convention(file).layout == "NHWC" else shape[2:4]


@click.command("stylize")
@click.option("--model", required=True, type=click.Path(), help="style.onnx (or a .plan)")
@click.option("--input", "input_", required=True, type=click.Path(), help="image file or folder")
@click.option("--out", required=True, type=click.Path(), help="output folder (names are kept)")
@click.option("--batch", default=1, show_default=True, help="images per batch (same size only)")
@click.option("--threads", type=int, default=None, help="intra-op threads [physical cores]")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@precision_option()
@run_trial_shape_option()
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def run_stylize_cmd(
    model, input_, out, batch, threads, no_progress, precision, trial_shape, as_json
) -> None:
    """Restyle a photo or a folder of photos; prints images, failures, images/s."""
    shapes = trial_shapes(trial_shape)
    # The trial's pick can differ by size: by default, the size the first photo runs at.
    file = auto_trial_file(model, "auto", "cpu", precision)
    trial = shapes or image_trial_shapes(file, input_, out, batch)
    if not shapes and trial and min(_sides(file, next(iter(trial.values())))) < min_side(file):
        trial = {}  # a photo under the model's minimum side is skipped, not run
    engine = load(
        model, threads=threads, precision=precision, trial_shapes=trial or None,
        **quiet_pool("auto"),
    )  # fmt: skip
    check_trial_shapes(engine, shapes)
    summary = stylize_path(
        engine, input_, out, batch=batch, threads=threads, progress=not no_progress
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_skipped(summary.skipped)
        click.echo(summary.line())
    if summary.images == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every input failed ({summary.failed}); first: {first}")

"""`ptx run cutout` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json

import click

from ptx.errors import ImageError
from ptx.runtime import load
from ptx.runtime.backends import quiet_pool
from ptx.runtime.cli._common import (
    auto_trial_file,
    check_trial_shapes,
    first_photo_shapes,
    print_skipped,
    run_trial_shape_option,
    trial_shapes,
)
from ptx.runtime.pipelines.cutout import (
    SHIPPED_MODEL,
    cutout_path,
    flip_average,
    profile_sides,
    work_size,
)
from ptx.spec import ImageConvention

TRIAL_HELP = (
    "NAME:SHAPE the auto backend/precision trial runs at, e.g. image:1x3x320x240 (repeat per "
    "input); it must lie inside the model's profile [the first input photo's working size, "
    "else the spec's opt shape]"
)


@click.command("cutout")
@click.option(
    "--model", default=str(SHIPPED_MODEL), show_default="the cut-out model that ships with ptx",
    type=click.Path(), help="cutout.onnx (or a .plan)",
)  # fmt: skip
@click.option("--input", "input_", required=True, type=click.Path(), help="image file or folder")
@click.option(
    "--out", required=True, type=click.Path(), help="output folder (RGBA PNG, same stems)"
)
@click.option("--threads", type=int, default=None, help="intra-op threads [physical cores]")
@run_trial_shape_option(TRIAL_HELP)
@click.option(
    "--refine/--no-refine", default=None,
    help="refine the alpha with GrabCut seeded by the net [the model's spec says]",
)  # fmt: skip
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def run_cutout_cmd(model, input_, out, threads, trial_shape, refine, no_progress, as_json) -> None:
    """Cut the product out of a photo or a folder of photos: RGBA PNGs with a soft alpha."""
    shapes = trial_shapes(trial_shape)
    file = auto_trial_file(model, "auto", "cpu", "auto")
    if not shapes and file is not None:  # by default, the size the first photo runs at
        conv = file.spec.image if file.spec and file.spec.image else ImageConvention()
        # (work, min, max) sides from the spec, as cutout_feeds reads them; a batch of two
        # (the photo and its mirror) where the spec averages them
        batch = 2 if flip_average(file) else 1
        shapes = first_photo_shapes(
            file, input_, out, batch, conv, lambda h, w: work_size(h, w, *profile_sides(file))
        )
    engine = load(model, threads=threads, trial_shapes=shapes or None, **quiet_pool("auto"))
    check_trial_shapes(engine, shapes)
    summary = cutout_path(
        engine, input_, out, threads=threads, progress=not no_progress, refine=refine
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_skipped(summary.skipped)
        click.echo(summary.line())
    if summary.images == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every input failed ({summary.failed}); first: {first}")

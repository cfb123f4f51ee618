"""`ptx run tryon` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json

import click

from ptx.errors import ImageError, PtxError
from ptx.image import padded_size
from ptx.io import list_images
from ptx.runtime import load
from ptx.runtime.cli._common import (
    BACKEND_NAMES,
    ModelFile,
    auto_trial_file,
    check_trial_shapes,
    precision_option,
    print_skipped,
    run_trial_shape_option,
    trial_shapes,
)
from ptx.runtime.pipelines.tryon import CHUNK, INPUTS, tryon_path, tryon_plan

TRIAL_HELP = (
    "NAME:SHAPE the auto backend/precision trial runs at, e.g. garment:8x3x64x64 (repeat per "
    "input); it must lie inside the model's profile [both inputs at the model's side, "
    f"batch = the pairs of one call (up to {CHUNK}), else the spec's opt shape]"
)


def pair_shapes(model: ModelFile | None, garment: str, mannequin: str) -> dict:
    """The shapes of the first engine call: CHUNK pairs (fewer if fewer), side x side each."""
    if model is None:
        return {}
    try:
        plan = tryon_plan(model)
        pairs = len(list_images(garment)) * len(list_images(mannequin))
    except (PtxError, OSError):  # the run itself says what is wrong, in its own words
        return {}
    side = padded_size(plan.side, plan.side, plan.conv.multiple_of)
    n = max(1, min(CHUNK, pairs))
    shape = (n, *side, 3) if plan.conv.layout == "NHWC" else (n, 3, *side)
    return dict.fromkeys(INPUTS, shape)


@click.command("tryon")
@click.option("--model", required=True, type=click.Path(), help="tryon.onnx (or a .plan)")
@click.option("--garment", required=True, type=click.Path(), help="flat garment image or folder")
@click.option("--mannequin", required=True, type=click.Path(), help="mannequin image or folder")
@click.option("--out", required=True, type=click.Path(), help="output folder")
@click.option("--sheet", default=None, type=click.Path(), help="also write a sheet PNG")
@click.option("--backend", type=click.Choice(BACKEND_NAMES), default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="intra-op threads [physical cores]")
@precision_option()
@run_trial_shape_option(TRIAL_HELP)
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def run_tryon_cmd(
    model, garment, mannequin, out, sheet, backend, threads, precision, trial_shape, as_json
) -> None:
    """Dress every mannequin in every garment; writes OUT/<garment>_on_<mannequin>.png."""
    shapes = trial_shapes(trial_shape)
    # The trial's pick can differ by batch: by default, the first call's pairs.
    trial = shapes or pair_shapes(
        auto_trial_file(model, backend, "cpu", precision), garment, mannequin
    )
    with load(
        model, backend=backend, threads=threads, precision=precision, trial_shapes=trial or None
    ) as engine:
        check_trial_shapes(engine, shapes)
        summary = tryon_path(engine, garment, mannequin, out, sheet=sheet)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_skipped(summary.skipped)
        click.echo(summary.line() + (f" and {sheet}" if sheet and summary.images else ""))
    if summary.images == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every pair failed ({summary.failed}); first: {first}")

"""`ptx train cutout` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.training.cli._echo import echo_metrics
from ptx.training.cutout.train import train_cutout


@click.command("cutout")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Checkpoint folder.")
@click.option("--steps", type=int, default=3000, show_default=True)
@click.option("--images", type=int, default=2000, show_default=True, help="Matte renders.")
@click.option("--size", type=int, default=192, show_default=True, help="Render side in px.")
@click.option("--batch", type=int, default=10, show_default=True)
@click.option("--patch", type=int, default=128, show_default=True, help="Crop side in px.")
@click.option("--width", type=int, default=None, help="Network width [16].")
@click.option(
    "--refiner",
    type=int,
    default=None,
    help="Put the --init net (frozen) under a full-resolution edge refiner of N channels.",
)
@click.option(
    "--train-coarse", is_flag=True, help="A refined model's coarse net trains too [frozen]."
)
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--held-out", type=int, default=48, show_default=True, help="Held-out renders.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option(
    "--init",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Warm start: a cutout checkpoint's weights (new optimizer and schedule).",
)
@click.option(
    "--work-side",
    type=int,
    default=None,
    help="Long side the runtime runs the net at [--size; with --init/--resume: theirs].",
)
@click.option(
    "--flip-average/--no-flip-average",
    default=None,
    help="Runtime averages the alpha with the mirror image's [on; --init/--resume: theirs].",
)
@click.option(
    "--refine/--no-refine",
    default=None,
    help="Runtime refines the alpha with GrabCut [on; --init/--resume: theirs].",
)
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON.")
def train_cutout_cmd(
    out: Path,
    steps: int,
    images: int,
    size: int,
    batch: int,
    patch: int,
    width: int | None,
    refiner: int | None,
    train_coarse: bool,
    lr: float,
    seed: int,
    held_out: int,
    resume: bool,
    init: Path | None,
    work_side: int | None,
    flip_average: bool | None,
    refine: bool | None,
    time_budget: float | None,
    as_json: bool,
) -> None:
    """Train the cut-out (soft alpha matting) model on synthetic renders with exact alpha."""
    metrics = train_cutout(
        out,
        steps=steps,
        images=images,
        size=size,
        batch=batch,
        patch=patch,
        lr=lr,
        seed=seed,
        resume=resume,
        config=_config(width, refiner),
        time_budget_s=time_budget,
        held_out_images=held_out,
        init=init,
        work_side=work_side,
        flip_average=flip_average,
        refine=refine,
        train_coarse=train_coarse,
    )
    echo_metrics(f"checkpoint: {out}", metrics, as_json, checkpoint=str(out))


def _config(width: int | None, refiner: int | None) -> dict | None:
    """The model config the options ask for (None: the defaults)."""
    cfg = {k: v for k, v in (("width", width), ("refiner", refiner)) if v is not None}
    return cfg or None

"""`ptx train enhance` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.training.cli._echo import echo_metrics
from ptx.training.enhance.train import train_enhance


@click.command("enhance")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Image folder.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Checkpoint folder.")
@click.option("--steps", type=int, default=3000, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--patch", type=int, default=64, show_default=True, help="Crop side in pixels.")
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON.")
def train_enhance_cmd(
    data: Path,
    out: Path,
    steps: int,
    batch: int,
    patch: int,
    lr: float,
    seed: int,
    resume: bool,
    time_budget: float | None,
    as_json: bool,
) -> None:
    """Train the enhancement model (denoise, colour, contrast) on an image folder."""
    metrics = train_enhance(
        data,
        out,
        steps=steps,
        batch=batch,
        patch=patch,
        lr=lr,
        seed=seed,
        resume=resume,
        time_budget_s=time_budget,
    )
    echo_metrics(f"checkpoint: {out}", metrics, as_json, checkpoint=str(out))

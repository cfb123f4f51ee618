"""`ptx train tryon` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.training.cli._echo import echo_metrics


@click.command("tryon")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Checkpoint folder.")
@click.option("--steps", type=int, default=6000, show_default=True)
@click.option("--batch", type=int, default=8, show_default=True)
@click.option("--lr", type=float, default=2e-4, show_default=True)
@click.option("--l1-weight", type=float, default=100.0, show_default=True, help="pix2pix lambda.")
@click.option("--side", type=int, default=64, show_default=True, help="Training image side.")
@click.option("--width", type=int, default=16, show_default=True, help="U-Net base channels.")
@click.option("--depth", type=int, default=4, show_default=True, help="U-Net stride-2 stages.")
@click.option("--val", "n_val", type=int, default=32, show_default=True, help="Held-out samples.")
@click.option("--checkpoint-every", type=int, default=500, show_default=True)
@click.option("--threads", type=int, default=None, help="torch threads [timed: all vs half].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON.")
def train_tryon_cmd(
    out, steps, batch, lr, l1_weight, side, width, depth, n_val, checkpoint_every, threads,
    seed, resume, time_budget, as_json,
) -> None:  # fmt: skip
    """Train a virtual try-on model (pix2pix) on rendered garment/mannequin pairs."""
    # Imported here: ptx.training.tryon.train imports torch, and `ptx train --help` must not.
    from ptx.training.tryon.train import train_tryon

    metrics = train_tryon(
        out,
        steps,
        batch=batch,
        lr=lr,
        l1_weight=l1_weight,
        seed=seed,
        resume=resume,
        config={"width": width, "depth": depth, "side": side},
        time_budget_s=time_budget,
        checkpoint_every=checkpoint_every,
        n_val=n_val,
        threads=threads,
    )
    echo_metrics(f"checkpoint: {out}", metrics, as_json, checkpoint=str(out))

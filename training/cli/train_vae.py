"""`ptx train vae` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.training.cli._echo import echo_metrics
from ptx.training.vae.train import train_vae


@click.command("vae")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Image folder.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the two checkpoints (OUT/encoder, OUT/decoder).",
)
@click.option("--steps", type=int, default=4000, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--beta", type=float, default=0.02, show_default=True, help="KL weight.")
@click.option("--latent", type=int, default=128, show_default=True, help="Latent size.")
@click.option("--width", type=int, default=16, show_default=True, help="First-stage channels.")
@click.option("--size", type=int, default=64, show_default=True, help="Image side (x16).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the checkpoints in --out.")
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON.")
def train_vae_cmd(
    data, out, steps, batch, lr, beta, latent, width, size, seed, resume, time_budget, as_json
) -> None:
    """Train the VAE (encoder + decoder) on an image folder."""
    metrics = train_vae(
        data,
        out,
        steps=steps,
        batch=batch,
        lr=lr,
        beta=beta,
        seed=seed,
        resume=resume,
        time_budget_s=time_budget,
        config={"latent": latent, "width": width, "image_size": size},
    )
    echo_metrics(f"checkpoints: {out}/encoder {out}/decoder", metrics, as_json, checkpoint=str(out))

"""`ptx train gan` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.training.cli._echo import echo_metrics


@click.command("gan")
@click.option(
    "--data", type=click.Path(path_type=Path), required=True, help="Labelled image folder."
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Checkpoint folder.")
@click.option("--steps", type=int, default=2000, show_default=True)
@click.option("--batch", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=2e-4, show_default=True, help="Generator lr (D: 2x).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--size", type=click.Choice(["64", "128"]), default="64", show_default=True)
@click.option("--width", type=int, default=None, help="Channels at full resolution [8].")
@click.option("--latent", type=int, default=None, help="Length of z [64].")
@click.option("--ema", type=float, default=0.995, show_default=True, help="Generator EMA decay.")
@click.option("--aux", type=float, default=0.5, show_default=True, help="Aux label loss weight.")
@click.option(
    "--diversity", type=float, default=0.25, show_default=True, help="Mode-seeking loss weight."
)
@click.option("--z-every-layer", is_flag=True, help="Feed z to every conditional batch norm.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the final figures as JSON.")
def train_gan_cmd(
    data, out, steps, batch, lr, seed, size, width, latent, ema, aux, diversity,
    z_every_layer, resume, time_budget, as_json,
) -> None:  # fmt: skip
    """Train the conditional GAN (category + colour -> product image) on a labelled folder."""
    # Imported here: ptx.training.gan.train imports torch, and `ptx train --help` must not.
    from ptx.training.gan.train import train_gan

    config = {"size": int(size), "z_every_layer": z_every_layer}
    config.update({k: v for k, v in (("width", width), ("latent", latent)) if v is not None})
    metrics = train_gan(
        data, out, steps=steps, batch=batch, lr=lr, seed=seed, resume=resume,
        time_budget_s=time_budget, config=config, ema=ema, aux=aux, diversity=diversity,
    )  # fmt: skip
    echo_metrics(f"checkpoint: {out}", metrics, as_json, checkpoint=str(out))

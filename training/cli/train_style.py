"""`ptx train style` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.training.cli._echo import echo_metrics

STYLE_HELP = "Style image file, or 'ad' (built-in poster texture)."


@click.command("style")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Image folder.")
@click.option("--style", "style_image", default="ad", show_default=True, help=STYLE_HELP)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Checkpoint folder.")
@click.option("--steps", type=int, default=2000, show_default=True)
@click.option("--batch", type=int, default=4, show_default=True)
@click.option("--patch", type=int, default=64, show_default=True, help="Crop side in pixels.")
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--style-weight", type=float, default=20.0, show_default=True)
@click.option("--content-weight", type=float, default=1.0, show_default=True)
@click.option("--tv-weight", type=float, default=0.5, show_default=True)
@click.option("--style-side", type=int, default=256, show_default=True, help="Style image scale.")
@click.option("--texture-seed", type=int, default=0, show_default=True)
@click.option(
    "--vgg-weights", type=click.Path(path_type=Path), default=None, help="Local VGG16 .pth."
)
@click.option("--width", type=int, default=16, show_default=True, help="Network channels.")
@click.option("--blocks", type=int, default=3, show_default=True, help="Residual blocks.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON.")
def train_style_cmd(
    data, style_image, out, steps, batch, patch, lr, style_weight, content_weight, tv_weight,
    style_side, texture_seed, vgg_weights, width, blocks, seed, resume, time_budget, as_json,
) -> None:  # fmt: skip
    """Train a fast style-transfer model for one style image on an image folder."""
    # Imported here: ptx.training.style.train imports torch, and `ptx train --help` must not.
    from ptx.training.style.train import train_style

    metrics = train_style(
        data,
        style_image,
        out,
        steps=steps,
        batch=batch,
        patch=patch,
        lr=lr,
        style_weight=style_weight,
        content_weight=content_weight,
        tv_weight=tv_weight,
        style_side=style_side,
        texture_seed=texture_seed,
        vgg_weights=vgg_weights,
        seed=seed,
        resume=resume,
        time_budget_s=time_budget,
        config={"width": width, "blocks": blocks},
    )
    echo_metrics(f"checkpoint: {out}", metrics, as_json, checkpoint=str(out))

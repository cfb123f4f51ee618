"""`ptx train style` and `ptx eval style` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptx.training.cli.vae import _echo_metrics

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
    _echo_metrics(f"checkpoint: {out}", metrics, as_json, checkpoint=str(out))


@click.command("style")
@click.option("--model", type=click.Path(), required=True, help="style.onnx")
@click.option("--style", "style_image", default="ad", show_default=True, help=STYLE_HELP)
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Image folder.")
@click.option("--max-images", type=int, default=16, show_default=True)
@click.option("--size", type=int, default=128, show_default=True, help="Image side scored.")
@click.option("--seed", type=int, default=0, show_default=True, help="Split seed (as training).")
@click.option(
    "--texture-seed", type=int, default=None, help="Texture net seed [the model's, from its spec]"
)
@click.option(
    "--vgg-weights", type=click.Path(path_type=Path), default=None, help="Local VGG16 .pth."
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Also write JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def eval_style_cmd(
    model, style_image, data, max_images, size, seed, texture_seed, vgg_weights, out, as_json
) -> None:
    """Gram-loss reduction vs the content images, and content preservation."""
    from ptx.io import atomic_write_text
    from ptx.training.style.train import evaluate_style

    metrics = evaluate_style(
        model,
        style_image,
        data,
        max_images=max_images,
        size=size,
        seed=seed,
        texture_seed=texture_seed,
        vgg_weights=vgg_weights,
    )
    if out is not None:
        atomic_write_text(out, json.dumps(metrics, indent=2) + "\n")
    _echo_metrics("style transfer (held-out)", metrics, as_json)

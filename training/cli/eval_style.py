"""`ptx eval style` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptx.io import atomic_write_text
from ptx.training.cli._echo import echo_metrics
from ptx.training.cli.train_style import STYLE_HELP


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
    # Imported here: ptx.training.style.evaluate imports torch, and `ptx eval --help` must not.
    from ptx.training.style.evaluate import evaluate_style

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
    echo_metrics("style transfer (held-out)", metrics, as_json)

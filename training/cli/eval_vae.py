"""`ptx eval vae` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptx.io import atomic_write_text
from ptx.training.cli._echo import echo_metrics
from ptx.training.vae.evaluate import evaluate_vae


@click.command("vae")
@click.option("--encoder", type=click.Path(), required=True, help="vae-encoder.onnx")
@click.option("--decoder", type=click.Path(), required=True, help="vae-decoder.onnx")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Image folder.")
@click.option("--max-images", type=int, default=256, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Split seed (as training).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Also write JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def eval_vae_cmd(encoder, decoder, data, max_images, seed, out, as_json) -> None:
    """Reconstruction PSNR/SSIM of an exported VAE on held-out images."""
    metrics = evaluate_vae(encoder, decoder, data, max_images=max_images, seed=seed)
    if out is not None:
        atomic_write_text(out, json.dumps(metrics, indent=2) + "\n")
    echo_metrics("vae reconstruction (held-out)", metrics, as_json)

"""`ptx run vae` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json

import click

from ptx.runtime import load
from ptx.runtime.cli._common import precision_option, print_skipped
from ptx.runtime.pipelines.vae import run_vae


@click.command("vae")
@click.option("--encoder", type=click.Path(), default=None, help="vae-encoder.onnx")
@click.option("--decoder", type=click.Path(), required=True, help="vae-decoder.onnx")
@click.option(
    "--interpolate", nargs=2, type=click.Path(), default=None, help="two photos: A.png B.png"
)
@click.option("--steps", type=int, default=8, show_default=True, help="images on the path")
@click.option("--lerp", is_flag=True, help="straight-line path (default: spherical)")
@click.option("--reconstruct", type=click.Path(), default=None, help="image file or folder")
@click.option("--sample", type=int, default=None, help="decode N prior samples")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the samples")
@click.option(
    "--prior",
    type=click.Choice(["auto", "fitted", "standard"]),
    default="auto",
    show_default=True,
    help="sample from the Gaussian fitted to the training codes, or N(0, I)",
)
@click.option("--out", type=click.Path(), required=True, help="output folder")
@click.option("--strip", type=click.Path(), default=None, help="also write one sheet (PNG)")
@precision_option()
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def run_vae_cmd(
    encoder, decoder, interpolate, steps, lerp, reconstruct, sample, seed, prior, out, strip,
    precision, as_json,
) -> None:  # fmt: skip
    """Interpolate between two photos, reconstruct photos, or sample with a VAE."""
    if precision != "auto":  # the pipeline's own load is ONNX Runtime fp32
        backend = "onnxruntime" if precision == "fp32" else "auto"
        decoder = load(decoder, backend=backend, precision=precision)
        if encoder is not None:
            encoder = load(encoder, backend=backend, precision=precision)
    summary = run_vae(
        decoder,
        out,
        encoder=encoder,
        interpolate_between=tuple(interpolate) if interpolate else None,
        steps=steps,
        reconstruct_dir=reconstruct,
        n_samples=sample,
        seed=seed,
        strip=strip,
        mode="lerp" if lerp else "slerp",
        prior=prior,
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    print_skipped(summary.skipped)
    click.echo(summary.line())

"""`ptx run vae` and `ptx run stylize` (thin: parse, call one function, print). No torch."""

from __future__ import annotations

import json

import click

MAX_LISTED = 10


def _print_skipped(skipped: list[tuple[str, str]]) -> None:
    for path, reason in skipped[:MAX_LISTED]:
        click.echo(reason if path in reason else f"skipped {path}: {reason}", err=True)
    if len(skipped) > MAX_LISTED:
        click.echo(f"... and {len(skipped) - MAX_LISTED} more skipped", err=True)


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
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def run_vae_cmd(
    encoder, decoder, interpolate, steps, lerp, reconstruct, sample, seed, prior, out, strip,
    as_json,
) -> None:  # fmt: skip
    """Interpolate between two photos, reconstruct photos, or sample with a VAE."""
    from ptx.runtime.pipelines.vae import run_vae

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
    _print_skipped(summary.skipped)
    click.echo(summary.line())


@click.command("stylize")
@click.option("--model", required=True, type=click.Path(), help="style.onnx (or a .plan)")
@click.option("--input", "input_", required=True, type=click.Path(), help="image file or folder")
@click.option("--out", required=True, type=click.Path(), help="output folder (names are kept)")
@click.option("--batch", default=1, show_default=True, help="images per batch (same size only)")
@click.option("--threads", type=int, default=None, help="intra-op threads [physical cores]")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def run_stylize_cmd(model, input_, out, batch, threads, no_progress, as_json) -> None:
    """Restyle a photo or a folder of photos; prints images, failures, images/s."""
    from ptx.errors import ImageError
    from ptx.runtime.pipelines.stylize import stylize_path

    summary = stylize_path(
        model, input_, out, batch=batch, threads=threads, progress=not no_progress
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_skipped(summary.skipped)
        click.echo(summary.line())
    if summary.images == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every input failed ({summary.failed}); first: {first}")

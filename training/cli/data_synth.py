"""`ptx data synth` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptx.training.data.catalogue import write_catalogue


@click.command("synth")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--n", "n", type=int, required=True, help="Number of images.")
@click.option("--size", type=int, required=True, help="Image side in pixels (16..4096).")
@click.option("--seed", type=int, default=0, show_default=True, help="Catalogue seed.")
@click.option("--workers", type=int, default=None, help="Processes (default: all cores).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def synth(out: Path, n: int, size: int, seed: int, workers: int | None, as_json: bool) -> None:
    """Write a synthetic product catalogue: OUT/<category>/*.png plus OUT/labels.csv."""
    s = write_catalogue(out, n, size, seed, progress=not as_json, workers=workers)
    if as_json:
        click.echo(json.dumps(s.to_dict()))
        return
    click.echo(
        f"wrote {s.images} images ({len(s.categories)} categories, {len(s.colors)} colours, "
        f"{size}px) to {s.out} in {s.seconds:.1f} s ({s.images_per_s:.0f} images/s)"
    )

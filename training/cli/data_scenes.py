"""`ptx data scenes` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ptx.training.data.scenes import write_scenes


@click.command("scenes")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--n", "n", type=int, required=True, help="Number of images.")
@click.option("--size", type=int, required=True, help="Image side in pixels (16..4096).")
@click.option("--seed", type=int, default=0, show_default=True, help="Render seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def scenes(out: Path, n: int, size: int, seed: int, as_json: bool) -> None:
    """Write products on busy backdrops (OUT/scene_*.png): extra clean photos for the enhancer."""
    start = time.perf_counter()
    kinds = write_scenes(out, n, size, seed)
    seconds = time.perf_counter() - start
    if as_json:
        click.echo(json.dumps({"out": str(out), "images": n, "kinds": kinds, "seconds": seconds}))
        return
    mix = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    click.echo(f"wrote {n} images ({size}px; backdrops: {mix}) to {out} in {seconds:.1f} s")

"""`ptx run cutout` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json

import click

from ptx.errors import ImageError
from ptx.runtime.cli._common import print_skipped
from ptx.runtime.pipelines.cutout import cutout_path


@click.command("cutout")
@click.option("--model", required=True, type=click.Path(), help="cutout.onnx (or a .plan)")
@click.option("--input", "input_", required=True, type=click.Path(), help="image file or folder")
@click.option(
    "--out", required=True, type=click.Path(), help="output folder (RGBA PNG, same stems)"
)
@click.option("--threads", type=int, default=None, help="intra-op threads [physical cores]")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def run_cutout_cmd(model, input_, out, threads, no_progress, as_json) -> None:
    """Cut the product out of a photo or a folder of photos: RGBA PNGs with a soft alpha."""
    summary = cutout_path(model, input_, out, threads=threads, progress=not no_progress)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_skipped(summary.skipped)
        click.echo(summary.line())
    if summary.images == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every input failed ({summary.failed}); first: {first}")

"""`ptx run tryon` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json

import click

from ptx.errors import ImageError
from ptx.runtime import load
from ptx.runtime.cli._common import BACKEND_NAMES, precision_option, print_skipped
from ptx.runtime.pipelines.tryon import tryon_path


@click.command("tryon")
@click.option("--model", required=True, type=click.Path(), help="tryon.onnx (or a .plan)")
@click.option("--garment", required=True, type=click.Path(), help="flat garment image or folder")
@click.option("--mannequin", required=True, type=click.Path(), help="mannequin image or folder")
@click.option("--out", required=True, type=click.Path(), help="output folder")
@click.option("--sheet", default=None, type=click.Path(), help="also write a sheet PNG")
@click.option("--backend", type=click.Choice(BACKEND_NAMES), default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="intra-op threads [physical cores]")
@precision_option()
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def run_tryon_cmd(
    model, garment, mannequin, out, sheet, backend, threads, precision, as_json
) -> None:
    """Dress every mannequin in every garment; writes OUT/<garment>_on_<mannequin>.png."""
    with load(model, backend=backend, threads=threads, precision=precision) as engine:
        summary = tryon_path(engine, garment, mannequin, out, sheet=sheet)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_skipped(summary.skipped)
        click.echo(summary.line() + (f" and {sheet}" if sheet and summary.images else ""))
    if summary.images == 0:
        first = summary.skipped[0][1] if summary.skipped else "nothing was written"
        raise ImageError(f"every pair failed ({summary.failed}); first: {first}")

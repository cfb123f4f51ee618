"""`ptx data info` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptx.training.data.folders import ImageFolder


@click.command("info")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--split", default=None, help="Only this split of labels.csv.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(root: Path, split: str | None, as_json: bool) -> None:
    """Count a folder's readable images, skipped files and label vocabularies."""
    folder = ImageFolder(root, split=split)
    report = folder.describe()
    if as_json:
        click.echo(json.dumps(report))
        return
    classes = ", ".join(f"{k}: {len(v)}" for k, v in report["classes"].items()) or "no labels"
    click.echo(f"{report['images']} images, {report['skipped']} skipped ({classes}) in {root}")
    for path, reason in folder.skipped.skipped[:10]:
        click.echo(f"  skipped {path}: {reason}")

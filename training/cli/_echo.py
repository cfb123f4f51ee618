"""How the training commands print their figures: JSON, or a title and one aligned row each."""

from __future__ import annotations

import json
from typing import Any

import click


def echo_metrics(title: str, metrics: dict[str, Any], as_json: bool, **extra: str) -> None:
    """Print ``metrics`` (and ``extra``, JSON only) as indented JSON, or as a table."""
    if as_json:
        click.echo(json.dumps({**extra, **metrics}, indent=2))
        return
    click.echo(title)
    width = max([20, *(len(k) for k in metrics)])
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        click.echo(f"  {key:{width}s} {shown}")

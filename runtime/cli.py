"""`ptx run ...` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import click


@click.group()
def run() -> None:
    """Run a model over images."""

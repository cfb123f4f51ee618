"""`ptx data ...` (thin: parse, call one function, print)."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Synthesise or inspect training data."""

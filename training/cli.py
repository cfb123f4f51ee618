"""`ptx train ...` (thin: parse, call one function, print)."""

from __future__ import annotations

import click


@click.group()
def train() -> None:
    """Train a model family."""

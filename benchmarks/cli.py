"""`ptx bench` (thin: parse, call one function, print)."""

from __future__ import annotations

import click


@click.command("bench")
def bench() -> None:
    """Measure latency and throughput."""

"""`ptx demo`: data → train → export → run → report, end to end."""

from __future__ import annotations

import click


@click.command("demo")
def demo_cmd() -> None:
    """Run the whole enhancement slice and write a report."""

"""`ptx data ...`: the group; each command lives in its own module."""

from __future__ import annotations

import click

from ptx.cli import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy={
        "synth": "ptx.training.cli.data_synth:synth",
        "info": "ptx.training.cli.data_info:info",
        "scenes": "ptx.training.cli.data_scenes:scenes",
    },
)
def data() -> None:
    """Synthesise or inspect training data."""

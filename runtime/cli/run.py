"""`ptx run ...`: the group only; each model task's command is its own module, imported on use."""

from __future__ import annotations

import click

from ptx.cli import LazyGroup

COMMANDS = {
    "enhance": "ptx.runtime.cli.run_enhance:enhance_cmd",
    "generate": "ptx.runtime.cli.run_generate:run_generate_cmd",
    "vae": "ptx.runtime.cli.run_vae:run_vae_cmd",
    "stylize": "ptx.runtime.cli.run_stylize:run_stylize_cmd",
    "tryon": "ptx.runtime.cli.run_tryon:run_tryon_cmd",
    "cutout": "ptx.runtime.cli.run_cutout:run_cutout_cmd",
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
def run() -> None:
    """Run a model over images."""

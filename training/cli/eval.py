"""`ptx eval ...`: quality metrics that need no downloaded network; one module per command."""

from __future__ import annotations

import click

from ptx.cli import LazyGroup


@click.group(
    "eval",
    cls=LazyGroup,
    lazy={
        "gan": "ptx.training.cli.eval_gan:eval_gan_cmd",
        "vae": "ptx.training.cli.eval_vae:eval_vae_cmd",
        "style": "ptx.training.cli.eval_style:eval_style_cmd",
    },
)
def eval_group() -> None:
    """Score a trained model (reconstruction, style, conditional accuracy, diversity)."""

"""`ptx train ...`: the group; each family's command lives in its own module."""

from __future__ import annotations

import click

from ptx.cli import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy={
        "enhance": "ptx.training.cli.train_enhance:train_enhance_cmd",
        "gan": "ptx.training.cli.train_gan:train_gan_cmd",
        "classifier": "ptx.training.cli.train_classifier:train_classifier_cmd",
        "vae": "ptx.training.cli.train_vae:train_vae_cmd",
        "style": "ptx.training.cli.train_style:train_style_cmd",
        "tryon": "ptx.training.tryon.cli:train_tryon_cmd",
        "cutout": "ptx.training.cutout.cli:train_cutout_cmd",
    },
)
def train() -> None:
    """Train a model family."""

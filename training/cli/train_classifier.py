"""`ptx train classifier` (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path

import click

from ptx.training.cli._echo import echo_metrics
from ptx.training.gan.classifier import train_classifier


@click.command("classifier")
@click.option(
    "--data", type=click.Path(path_type=Path), required=True, help="Labelled image folder."
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Classifier folder.")
@click.option("--steps", type=int, default=1500, show_default=True)
@click.option("--batch", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=3e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--size", type=int, default=64, show_default=True, help="Input side in pixels.")
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the held-out accuracy as JSON.")
def train_classifier_cmd(data, out, steps, batch, lr, seed, size, time_budget, as_json) -> None:
    """Train the category/colour classifier the GAN metrics use; reports held-out accuracy."""
    metrics = train_classifier(
        data, out, steps=steps, batch=batch, lr=lr, seed=seed, size=size,
        time_budget_s=time_budget,
    )  # fmt: skip
    echo_metrics(f"classifier: {out}", metrics, as_json, classifier=str(out))

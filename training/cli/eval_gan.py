"""`ptx eval gan` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptx.io import atomic_write_text
from ptx.training.gan.metrics import evaluate_gan


@click.command("gan")
@click.option("--model", type=click.Path(path_type=Path), required=True, help="gan.onnx")
@click.option("--classifier", type=click.Path(path_type=Path), required=True, help="Folder.")
@click.option(
    "--data", type=click.Path(path_type=Path), required=True, help="Real labelled images."
)
@click.option("--n", "n", type=int, default=400, show_default=True, help="Generated samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--json", "json_path", default=None, help="Write the report as JSON here ('-': stdout)."
)
def eval_gan_cmd(model, classifier, data, n, seed, json_path) -> None:
    """Conditional accuracy and same-label diversity of an exported generator (no Inception)."""
    report = evaluate_gan(model, classifier, data, n=n, seed=seed)
    text = json.dumps(report, indent=2)
    if json_path == "-":
        click.echo(text)
        return
    if json_path:
        atomic_write_text(json_path, text + "\n")
    clf = report["classifier"]
    click.echo(
        f"{report['samples']} samples over {report['label_pairs']} label pairs; classifier "
        f"held-out accuracy: category {clf.get('category_accuracy', float('nan')):.3f}, "
        f"colour {clf.get('color_accuracy', float('nan')):.3f}"
    )
    click.echo(
        f"conditional accuracy: category {report['category_accuracy']:.3f}, "
        f"colour {report['color_accuracy']:.3f}, both {report['joint_accuracy']:.3f}"
    )
    click.echo(
        f"same-label diversity (generated / real): pixels {report['diversity_pixel_ratio']:.3f}, "
        f"features {report['diversity_feature_ratio']:.3f}"
    )

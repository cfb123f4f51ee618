"""`ptx train gan|classifier` and `ptx eval gan` (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _print(metrics: dict, as_json: bool, head: str) -> None:
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    click.echo(head)
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        click.echo(f"  {key:28s} {shown}")


@click.command("gan")
@click.option(
    "--data", type=click.Path(path_type=Path), required=True, help="Labelled image folder."
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Checkpoint folder.")
@click.option("--steps", type=int, default=2000, show_default=True)
@click.option("--batch", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=2e-4, show_default=True, help="Generator lr (D: 2x).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--size", type=click.Choice(["64", "128"]), default="64", show_default=True)
@click.option("--width", type=int, default=None, help="Channels at full resolution [8].")
@click.option("--latent", type=int, default=None, help="Length of z [64].")
@click.option("--ema", type=float, default=0.995, show_default=True, help="Generator EMA decay.")
@click.option("--aux", type=float, default=0.5, show_default=True, help="Aux label loss weight.")
@click.option(
    "--diversity", type=float, default=0.25, show_default=True, help="Mode-seeking loss weight."
)
@click.option("--z-every-layer", is_flag=True, help="Feed z to every conditional batch norm.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the final figures as JSON.")
def train_gan_cmd(
    data, out, steps, batch, lr, seed, size, width, latent, ema, aux, diversity,
    z_every_layer, resume, time_budget, as_json,
) -> None:  # fmt: skip
    """Train the conditional GAN (category + colour -> product image) on a labelled folder."""
    from ptx.training.gan.train import train_gan

    config = {"size": int(size), "z_every_layer": z_every_layer}
    config.update({k: v for k, v in (("width", width), ("latent", latent)) if v is not None})
    metrics = train_gan(
        data, out, steps=steps, batch=batch, lr=lr, seed=seed, resume=resume,
        time_budget_s=time_budget, config=config, ema=ema, aux=aux, diversity=diversity,
    )  # fmt: skip
    _print({"checkpoint": str(out), **metrics}, as_json, f"checkpoint: {out}")


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
    from ptx.training.gan.classifier import train_classifier

    metrics = train_classifier(
        data, out, steps=steps, batch=batch, lr=lr, seed=seed, size=size,
        time_budget_s=time_budget,
    )  # fmt: skip
    _print({"classifier": str(out), **metrics}, as_json, f"classifier: {out}")


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
    from ptx.io import atomic_write_text
    from ptx.training.gan.metrics import evaluate_gan

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

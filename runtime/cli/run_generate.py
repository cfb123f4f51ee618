"""`ptx run generate` (thin: parse, call one function, print). Never imports torch."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ptx.errors import InputError
from ptx.image import grid
from ptx.io import write_image
from ptx.runtime import load
from ptx.runtime.cli._common import (
    BACKEND_NAMES,
    auto_trial_file,
    batch_shapes,
    check_trial_shapes,
    precision_option,
    run_trial_shape_option,
    trial_shapes,
)
from ptx.runtime.pipelines.generate import MAX_CHUNK, generate, write_images
from ptx.runtime.pipelines.generate_profile import generate_profile, load_profile

PROFILE_GRID = "grid.png"  # written into --out for a profile run without --grid


def parse_labels(items: tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE pairs -> dict; one InputError line for a malformed or repeated key."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise InputError(f"--label '{item}': use KEY=VALUE, e.g. --label category=mug")
        if key in out:
            raise InputError(f"--label {key} given twice ({out[key]}, {value}); give it once")
        out[key] = value
    return out


@click.command("generate")
@click.option("--model", required=True, type=click.Path(), help="gan.onnx (or a .plan)")
@click.option("--label", "labels", multiple=True, help="KEY=VALUE, e.g. category=mug (repeatable)")
@click.option(
    "--profile",
    "profile_path",
    default=None,
    type=click.Path(),
    help="user preferences JSON (colors/categories/styles with weights); writes a grid too",
)
@click.option("--n", "n", default=16, show_default=True, help="number of images")
@click.option("--seed", default=0, show_default=True, help="seed for z and for labels not given")
@click.option("--out", required=True, type=click.Path(), help="output folder")
@click.option("--grid", "grid_path", default=None, type=click.Path(), help="also write a grid PNG")
@click.option("--nrow", default=None, type=int, help="images per grid row [sqrt(n)]")
@click.option(
    "--backend", type=click.Choice(BACKEND_NAMES), default="onnxruntime", show_default=True
)
@precision_option()
@run_trial_shape_option(
    "NAME:SHAPE the --backend auto trial runs at, e.g. z:16x64 (repeat per input); it must "
    "lie inside the model's profile [the spec's opt shape at batch --n, up to "
    f"{MAX_CHUNK} per call]"
)
@click.option("--json", "as_json", is_flag=True, help="print what was written as JSON")
def run_generate_cmd(
    model, labels, profile_path, n, seed, out, grid_path, nrow, backend, precision, trial_shape,
    as_json,
) -> None:  # fmt: skip
    """Generate product images for given labels or a user's preference profile.

    Labels not given are drawn from the seed. With --profile, the variants follow the
    profile's weighted preferences (see ptx.runtime.pipelines.generate_profile).
    """
    wanted = parse_labels(labels)
    profile, extra = None, {}
    if profile_path is not None:
        if wanted:
            raise InputError("--profile and --label do not combine; put the labels in the profile")
        profile = load_profile(profile_path)
    shapes = trial_shapes(trial_shape)
    # The trial's pick can differ by batch: by default, the batch of the first call.
    trial = shapes or batch_shapes(
        auto_trial_file(model, backend, "cpu", precision), max(1, min(n, MAX_CHUNK))
    )
    with load(model, backend=backend, precision=precision, trial_shapes=trial or None) as engine:
        check_trial_shapes(engine, shapes)
        if profile is None:
            images, per_image = generate(engine, wanted, n=n, seed=seed)
        else:
            images, per_image, plan = generate_profile(engine, profile, n=n, seed=seed)
            seed = profile.seed if profile.seed is not None else seed
            grid_path = grid_path or str(Path(out) / PROFILE_GRID)
            groups = [{"labels": lab, "count": k} for lab, k in plan.groups]
            extra = {"profile": profile.name, "groups": groups, "notes": plan.notes}
            for note in plan.notes:
                click.echo(f"note: {note}", err=True)
    paths = write_images(images, per_image, out)
    if grid_path is not None:
        write_image(grid_path, grid(images, ncol=nrow))
    if as_json:
        report = {
            "model": str(model),
            "seed": seed,
            **extra,
            "images": [{"path": str(p), **lab} for p, lab in zip(paths, per_image, strict=True)],
            "grid": str(grid_path) if grid_path else None,
        }
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"wrote {len(paths)} images to {out}" + (f" and {grid_path}" if grid_path else ""))

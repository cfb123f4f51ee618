"""Start an enhance training run from an exported enhance ONNX (e.g. the shipped model).

A CPU training budget is small; the local denoiser in particular takes many steps
to learn. This writes a checkpoint folder holding the ONNX's weights (its
initializers carry the module's parameter names) and a fresh resume state (step
0, an empty optimizer), so ``ptx train enhance --resume --out <folder>`` continues
from them with whatever data and degradations the current code draws.

    python -m ptx.training.enhance.warm_start --onnx runtime/models/enhance.onnx --out ckpt

``--only local.`` takes the local denoiser's weights alone (the slow part to learn) and
leaves the rest freshly initialised: for a run whose global branch changed shape.
"""

from __future__ import annotations

from pathlib import Path

import click

from ptx.benchmarks.harness.script import run_script
from ptx.errors import InputError, ModelError
from ptx.spec import spec_from_onnx
from ptx.training.common import registry
from ptx.training.common.checkpoint import save_checkpoint

FAMILY = "enhance"


def warm_start(onnx_path: str | Path, out: str | Path, seed: int = 0, only: str = "") -> Path:
    """Write checkpoint ``out`` with the weights of enhance ONNX ``onnx_path`` and step 0.

    ``only``: load just the parameters whose names start with it (the rest stay fresh).
    """
    import onnx
    import torch
    from onnx import numpy_helper

    path = Path(onnx_path)
    if not path.is_file():
        raise InputError(f"{path}: no such ONNX file")
    proto = onnx.load(str(path))
    spec = spec_from_onnx(proto)
    if spec is None or spec.family != FAMILY:
        found = "no ModelSpec" if spec is None else f"a '{spec.family}' model"
        raise ModelError(f"{path}: {found}, not an enhance model with its spec")
    fam = registry.get(FAMILY)
    cfg = fam.config(**spec.config)
    model, fresh = fam.build(cfg), fam.make_spec(cfg)
    want = {k: v for k, v in model.state_dict().items() if k.startswith(only)}
    weights = {
        i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
        for i in proto.graph.initializer
        if i.name in want
    }
    params = {k for k, _ in model.named_parameters() if k.startswith(only)}
    if not params:
        raise InputError(f"--only {only!r}: no parameter of the enhance model starts with it")
    missing = sorted(params - weights.keys())
    if missing:
        raise ModelError(f"{path}: lacks weights {', '.join(missing[:4])}; not this architecture")
    bad = [k for k, v in weights.items() if v.shape != want[k].shape]
    if bad:
        raise ModelError(f"{path}: weight shapes differ from the spec's config ({bad[0]})")
    model.load_state_dict(weights, strict=False)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters())
    state = {
        "optimizer": opt.state_dict(),
        "step": 0,
        "seed": seed,
        "schedule": 0.0,
        "torch_rng": torch.get_rng_state(),
    }
    return save_checkpoint(out, model, fresh, state)


@click.command()
@click.option("--onnx", "onnx_path", required=True, help="An exported enhance ONNX with its spec.")
@click.option("--out", required=True, help="Checkpoint folder to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="The run's data seed.")
@click.option("--only", default="", help="Load only parameters with this prefix (e.g. local.).")
def main(onnx_path: str, out: str, seed: int, only: str) -> None:
    """Write a step-0 checkpoint holding an enhance ONNX's weights (then train with --resume)."""
    folder = warm_start(onnx_path, out, seed, only)
    click.echo(f"wrote {folder} from {onnx_path}; continue with ptx train enhance --resume")


if __name__ == "__main__":
    run_script(main)

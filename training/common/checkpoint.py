"""Checkpoints: a folder with ``model.safetensors`` + ``spec.json`` (+ ``state.pt`` to resume).

Every file is written atomically and ``spec.json`` last, so a folder with a
spec always has the weights it describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptx.errors import InputError, ModelError
from ptx.io import atomic_path, sha256_file
from ptx.spec import ModelSpec
from ptx.training.common import registry

WEIGHTS = "model.safetensors"
SPEC = "spec.json"
STATE = "state.pt"


def save_checkpoint(
    out: str | Path, model: Any, spec: ModelSpec, state: dict[str, Any] | None = None
) -> Path:
    """Write weights, optional resume state, then the spec (with the weights' sha256)."""
    import torch
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    if state is not None:
        with atomic_path(out / STATE) as tmp:
            torch.save(state, tmp)
    spec.source_hash = sha256_file(out / WEIGHTS)
    spec.save(out / SPEC)
    return out


def read_spec(ckpt: str | Path) -> ModelSpec:
    """The ModelSpec of a checkpoint folder (clear error when it is not one)."""
    ckpt = Path(ckpt)
    if not ckpt.is_dir():
        raise ModelError(f"{ckpt}: not a checkpoint folder (expected {SPEC} and {WEIGHTS})")
    if not (ckpt / SPEC).is_file() or not (ckpt / WEIGHTS).is_file():
        raise ModelError(f"{ckpt}: not a ptx checkpoint (missing {SPEC} or {WEIGHTS})")
    return ModelSpec.load(ckpt / SPEC)


def load_checkpoint(ckpt: str | Path, family: str | None = None) -> tuple[Any, ModelSpec]:
    """Rebuild the module from the spec's family and config, and load its weights.

    ``family`` guards against a checkpoint of another model family.
    """
    from safetensors.torch import load_file

    ckpt = Path(ckpt)
    spec = read_spec(ckpt)
    if family is not None and spec.family != family:
        raise ModelError(
            f"{ckpt}: checkpoint is a '{spec.family}' model, not '{family}'; "
            f"use the matching command or another checkpoint"
        )
    fam = registry.get(spec.family)
    model = fam.build(spec.config)
    try:
        state = load_file(str(ckpt / WEIGHTS))
    except Exception as exc:
        raise ModelError(f"{ckpt}: {WEIGHTS} is unreadable ({type(exc).__name__})") from exc
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    unexpected = sorted(set(state) - set(want))
    wrong = sorted(k for k in set(want) & set(state) if want[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise ModelError(
            f"{ckpt}: weights do not fit this ptx's '{spec.family}' model "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} mis-shaped "
            f"tensors, e.g. {(missing + unexpected + wrong)[0]}); retrain it"
        )
    model.load_state_dict(state)
    model.eval()
    return model, spec


def load_state(ckpt: str | Path) -> dict[str, Any] | None:
    """The resume state (optimizer, step, rng) of a checkpoint, if it has one."""
    import torch

    p = Path(ckpt) / STATE
    if not p.is_file():
        return None
    return torch.load(p, map_location="cpu", weights_only=False)


def start_or_resume(
    out: str | Path, family: str, resume: bool, config: dict | None = None
) -> tuple[Any, ModelSpec, dict[str, Any] | None]:
    """(model, spec, resume state): a fresh ``family`` model, or the checkpoint in ``out``."""
    out = Path(out)
    if not resume:
        fam = registry.get(family)
        cfg = fam.config(**(config or {}))
        return fam.build(cfg), fam.make_spec(cfg), None
    if not (out / "spec.json").is_file():
        raise InputError(f"{out}: nothing to resume (no spec.json); drop --resume to start")
    model, spec = load_checkpoint(out, family=family)
    state = load_state(out)
    if state is None:
        raise InputError(f"{out}: checkpoint has no resume state (state.pt); drop --resume")
    return model, spec, state

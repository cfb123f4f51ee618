"""Checkpoints: a folder with ``model.safetensors`` + ``spec.json`` (+ ``state.pt`` to resume).

A save is one unit: the new files are staged in ``.saving/`` (each durable), then a
commit list with their sha256 is written there atomically (the commit point), then the
files are renamed into place and the list kept as ``checkpoint.json``. A save killed
before the commit point leaves the old checkpoint untouched (the stage is discarded on
the next use); one killed after it is finished by the next use. Loading checks the
weights against the spec's ``source_hash`` and the state against ``checkpoint.json``,
so a folder can never pair new weights with an old spec. ``state.pt`` is loaded with
``weights_only=True``: a resume never runs code from the file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ptx.errors import InputError, ModelError
from ptx.io import atomic_path, atomic_write_text, sha256_file
from ptx.spec import ModelSpec
from ptx.training.common import registry

WEIGHTS = "model.safetensors"
SPEC = "spec.json"
STATE = "state.pt"
STAGE = ".saving"  # staged files of a save in progress
COMMIT = "commit.json"  # in STAGE: {"files": {name: sha256}, "remove": [names]}, written last
MANIFEST = "checkpoint.json"  # the commit list of the checkpoint in place


def save_checkpoint(
    out: str | Path, model: Any, spec: ModelSpec, state: dict[str, Any] | None = None
) -> Path:
    """Stage weights, optional resume state and the spec (with the weights' sha256); commit."""
    import torch
    from safetensors.torch import save_file

    out = Path(out)
    stage = out / STAGE
    try:
        out.mkdir(parents=True, exist_ok=True)
        recover(out)
        stage.mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot write a checkpoint here ({exc.strerror or exc})") from exc
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(stage / WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    if state is not None:
        with atomic_path(stage / STATE) as tmp:
            torch.save(state, tmp)
    spec.source_hash = sha256_file(stage / WEIGHTS)
    spec.save(stage / SPEC)
    names = [WEIGHTS, SPEC] + ([STATE] if state is not None else [])
    commit = {
        "files": {n: sha256_file(stage / n) for n in names},
        "remove": [STATE] if state is None else [],
    }
    atomic_write_text(stage / COMMIT, json.dumps(commit, indent=1))
    _apply(out, commit)
    return out


def _apply(out: Path, commit: dict[str, Any]) -> None:
    """Rename a committed stage into place (idempotent), keep its list, drop the stage."""
    stage = out / STAGE
    for name in commit["files"]:
        if (stage / name).is_file():
            os.replace(stage / name, out / name)
    for name in commit["remove"]:
        (out / name).unlink(missing_ok=True)
    atomic_write_text(out / MANIFEST, json.dumps(commit, indent=1))
    shutil.rmtree(stage, ignore_errors=True)


def _read_commit(path: Path) -> dict[str, Any] | None:
    try:
        commit = json.loads(path.read_text())
        files, remove = commit["files"], commit["remove"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ok = isinstance(files, dict) and isinstance(remove, list)
    names = {WEIGHTS, SPEC, STATE}
    if not ok or not set(files) <= names or not set(remove) <= names:
        return None
    return commit


def recover(ckpt: str | Path) -> None:
    """Finish a save killed after its commit point, or discard one killed before it."""
    ckpt = Path(ckpt)
    stage = ckpt / STAGE
    if not stage.is_dir():
        return
    try:
        commit = _read_commit(stage / COMMIT)
        if commit is None:
            shutil.rmtree(stage)
        else:
            _apply(ckpt, commit)
    except (OSError, InputError) as exc:
        raise ModelError(
            f"{ckpt}: an interrupted save could not be finished or discarded ({exc}); "
            f"fix the folder's permissions or remove {stage}"
        ) from exc


def read_spec(ckpt: str | Path) -> ModelSpec:
    """The ModelSpec of a checkpoint folder (clear error when it is not one)."""
    ckpt = Path(ckpt)
    if not ckpt.is_dir():
        raise ModelError(f"{ckpt}: not a checkpoint folder (expected {SPEC} and {WEIGHTS})")
    recover(ckpt)
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
    if spec.source_hash and sha256_file(ckpt / WEIGHTS) != spec.source_hash:
        raise ModelError(
            f"{ckpt}: {WEIGHTS} does not match the spec's source_hash (a save from another "
            f"run or an edited file); re-save or retrain it"
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
    """The resume state (optimizer, step, rng) of a checkpoint, if it has one; never runs code."""
    import torch

    ckpt = Path(ckpt)
    recover(ckpt)
    p = ckpt / STATE
    if not p.is_file():
        return None
    commit = _read_commit(ckpt / MANIFEST)
    want = (commit or {}).get("files", {}).get(STATE)
    if commit is not None and want != sha256_file(p):
        raise ModelError(
            f"{p}: does not belong to this checkpoint's weights ({MANIFEST} lists "
            f"{'no state' if want is None else 'another'}); drop --resume or re-save"
        )
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise ModelError(
            f"{p}: refused: not plain tensors and containers ({type(exc).__name__}: {first}); "
            f"a resume state never runs code; drop --resume"
        ) from exc


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

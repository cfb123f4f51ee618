"""The ``NAME.plan.json`` sidecar: what built a plan, for what, from which ONNX."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ptx.errors import ModelError
from ptx.formats.tensorrt import MODULES, PIP_NAMES

SIDECAR_VERSION = 1


def sidecar_path(plan: str | Path) -> Path:
    """``m.plan`` -> ``m.plan.json``."""
    p = Path(plan)
    return p.with_name(p.name + ".json")


def read_sidecar(plan: str | Path) -> dict[str, Any] | None:
    """The sidecar beside ``plan``, or None when there is none."""
    path = sidecar_path(plan)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(
            f"{path}: sidecar is not valid JSON ({exc}); rebuild with ptx build"
        ) from exc
    if not isinstance(data, dict) or "flavour" not in data:
        raise ModelError(f"{path}: not a ptx plan sidecar (no 'flavour'); rebuild with ptx build")
    if int(data.get("sidecar_version", 0)) > SIDECAR_VERSION:
        raise ModelError(
            f"{path}: sidecar version {data['sidecar_version']} is newer than this "
            "ptx understands; upgrade ptx"
        )
    return data


def check_compatible(plan: str | Path, sidecar: dict[str, Any], installed: dict[str, str]) -> None:
    """Refuse a plan whose sidecar names a flavour or version that is not installed here."""
    flavour, version = sidecar.get("flavour"), sidecar.get("trt_version")
    onnx = (sidecar.get("onnx") or {}).get("path", "MODEL.onnx")
    rebuild = f"rebuild it here with: ptx build --onnx {onnx} --out {plan}"
    if flavour not in MODULES:
        raise ModelError(
            f"{plan}: sidecar names an unknown TensorRT flavour '{flavour}'; {rebuild}"
        )
    have = installed.get(flavour)
    if have is None:
        found = ", ".join(f"{MODULES[k]} {v}" for k, v in installed.items()) or "no TensorRT"
        raise ModelError(
            f"{plan}: built by {MODULES[flavour]} {version}, but only {found} is installed; "
            f"pip install {PIP_NAMES[flavour]}=={version}, or {rebuild}"
        )
    if have != version:
        raise ModelError(
            f"{plan}: built by {MODULES[flavour]} {version}, but {MODULES[flavour]} {have} is "
            f"installed (plans only load in the exact version that built them); {rebuild}"
        )

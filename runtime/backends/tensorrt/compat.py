"""May this plan run here? Flavour, version, plan checksum and GPU compute capability.

The flavour/version rule is ptx.formats.sidecar.check_compatible's; this adds the
GPU: a TensorRT-RTX plan lists its targets ("8.6", "12.0+"), and a GPU outside them
is refused with the command that rebuilds for it. Mainline plans record "this GPU"
(built for the GPU they were built on), so TensorRT itself is the judge there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ptx.errors import ModelError
from ptx.formats.sidecar import check_compatible

MAGIC = {b"ftrt": "tensorrt", b"vtrt": "rtx"}  # seen in plans of each flavour (undocumented)
# How to install each flavour: ptx has an extra for TensorRT-RTX only; mainline is its own wheel.
INSTALL_HINTS = {"tensorrt": "pip install tensorrt", "rtx": "pip install 'ptx[tensorrt-rtx]'"}
_CC = re.compile(r"^(?:sm_?)?(\d+)\.?(\d)(\+?)$")


def parse_capability(text: str) -> tuple[tuple[int, int], bool] | None:
    """``"8.6"`` / ``"sm_86"`` -> ((8, 6), False); ``"12.0+"`` -> ((12, 0), True); else None."""
    m = _CC.match(str(text).strip().lower())
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2))), m.group(3) == "+"


def targets_allow(targets: list[str], capability: tuple[int, int]) -> bool | None:
    """True/False when the targets say whether ``capability`` is covered; None if unknown."""
    parsed = [parse_capability(t) for t in targets]
    known = [p for p in parsed if p is not None]
    if not known:
        return None
    return any(cc == capability or (plus and capability >= cc) for cc, plus in known)


def rebuild_command(plan: str | Path, sidecar: dict[str, Any], capability: str | None) -> str:
    """The ``ptx build`` line that rebuilds ``plan`` (for ``capability`` when given)."""
    onnx = (sidecar.get("onnx") or {}).get("path", "MODEL.onnx")
    cmd = f"ptx build --onnx {onnx} --out {plan}"
    if sidecar.get("flavour") == "rtx" and capability:
        return f"{cmd} --trt rtx --compute-capability {capability}"
    return cmd


def check_gpu(
    plan: str | Path, sidecar: dict[str, Any], capability: tuple[int, int], gpu: str = "this GPU"
) -> None:
    """Refuse a plan whose recorded targets leave out this GPU's compute capability."""
    targets = [str(t) for t in sidecar.get("compute_capabilities") or []]
    cc = f"{capability[0]}.{capability[1]}"
    if targets_allow(targets, capability) is False:
        if sidecar.get("flavour") == "rtx":
            how = f"rebuild for it: {rebuild_command(plan, sidecar, cc)}"
            how += " (if TensorRT-RTX does not target it, build with mainline tensorrt on it)"
        else:
            how = f"rebuild it on this GPU: {rebuild_command(plan, sidecar, None)}"
        raise ModelError(
            f"{plan}: built for compute capability {', '.join(targets)}, but {gpu} is {cc}; {how}"
        )


def check_plan(
    plan: str | Path,
    sidecar: dict[str, Any] | None,
    installed: dict[str, str],
    sha256: str | None = None,
) -> str:
    """The flavour to load ``plan`` with, after the sidecar and checksum checks (no GPU)."""
    if sidecar is None:
        data = Path(plan).read_bytes()[:4]
        guess = MAGIC.get(data)
        if guess is None:
            raise ModelError(
                f"{plan}: not a TensorRT plan (unknown header) and no sidecar "
                f"{Path(plan).name}.json; build it with ptx build"
            )
        if guess not in installed:
            have = ", ".join(installed) or "no TensorRT"
            raise ModelError(
                f"{plan}: looks like a {guess} plan but only {have} is installed; "
                f"{INSTALL_HINTS[guess]}, or rebuild it with ptx build"
            )
        return guess
    check_compatible(plan, sidecar, installed)
    want = sidecar.get("plan_sha256")
    if sha256 is not None and want not in (None, sha256):
        raise ModelError(
            f"{plan}: the plan does not match its sidecar (sha256 differs); "
            f"rebuild both: {rebuild_command(plan, sidecar, None)}"
        )
    return str(sidecar["flavour"])

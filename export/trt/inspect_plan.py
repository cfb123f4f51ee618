"""What can be said about a ``.plan``: its sidecar, and what TensorRT reads from it on a GPU.

The sidecar (``ptx.formats.sidecar``) and the flavour adapter (``ptx.formats.tensorrt``)
are shared with the runtime, which refuses an incompatible plan by the same check.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from pathlib import Path
from typing import Any

from ptx.errors import ModelError
from ptx.formats.sidecar import check_compatible, read_sidecar
from ptx.formats.tensorrt import capturing_logger, detect, installed
from ptx.io import sha256_file

# First bytes of a serialised engine, seen in plans of each flavour (not a documented format).
MAGIC = {b"ftrt": "tensorrt", b"vtrt": "rtx"}


def cuda_gpu_count() -> int:
    """CUDA devices visible through the driver (0 when there is no driver or no GPU)."""
    name = ctypes.util.find_library("cuda") or "libcuda.so.1"
    try:
        lib = ctypes.CDLL(name)
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    except OSError:
        return 0


def _engine_info(flavour_name: str, data: bytes) -> dict[str, Any]:
    """IO, profiles and per-layer information from a deserialised engine (needs a GPU)."""
    flav = detect(flavour_name)
    trt = flav.trt
    logger = capturing_logger(trt)
    engine = trt.Runtime(logger).deserialize_cuda_engine(data)
    if engine is None:
        raise ModelError(
            f"{flav.module} could not deserialise the plan: "
            f"{'; '.join(logger.errors()[:1]) or 'no reason given'}"
        )
    tensors = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        entry = {
            "name": name,
            "mode": str(engine.get_tensor_mode(name)).split(".")[-1].lower(),
            "dtype": str(engine.get_tensor_dtype(name)).split(".")[-1].lower(),
            "shape": list(engine.get_tensor_shape(name)),
        }
        if entry["mode"] == "input":
            entry["profile"] = [list(s) for s in engine.get_tensor_profile_shape(name, 0)]
        tensors.append(entry)
    info: dict[str, Any] = {"tensors": tensors, "profiles": engine.num_optimization_profiles}
    inspector = engine.create_engine_inspector()
    if inspector is not None:
        text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
        try:
            info["layers"] = json.loads(text).get("Layers", [])
        except json.JSONDecodeError:
            info["layers"] = text.splitlines()
    return info


def inspect_plan(path: Path) -> dict[str, Any]:
    """The sidecar, a compatibility verdict, and engine details where a GPU can read them."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such plan file")
    data = path.read_bytes()
    report: dict[str, Any] = {"path": str(path), "bytes": len(data), "sha256": sha256_file(path)}
    report["magic_suggests"] = MAGIC.get(data[:4], "unknown (not a TensorRT plan?)")
    sidecar = read_sidecar(path)
    report["sidecar"] = sidecar
    have = installed()
    report["installed"] = have
    if sidecar is None:
        report["note"] = (
            "no sidecar (m.plan.json): flavour, version, targets and ModelSpec are "
            "unknown; rebuild with ptx build to get one"
        )
        flavour = report["magic_suggests"] if report["magic_suggests"] in have else None
    else:
        check_compatible(path, sidecar, have)
        if sidecar.get("plan_sha256") not in (None, report["sha256"]):
            raise ModelError(
                f"{path}: the plan does not match its sidecar (sha256 differs); "
                "rebuild both with ptx build"
            )
        flavour = sidecar["flavour"]
    gpus = cuda_gpu_count()
    if flavour is None:
        report["engine"] = {"read": False, "reason": "no installed TensorRT flavour matches it"}
    elif gpus == 0:
        report["engine"] = {
            "read": False,
            "reason": "TensorRT needs a CUDA GPU and driver to "
            "deserialise a plan; none here, so only the sidecar is shown",
        }
    else:
        report["engine"] = {"read": True, **_engine_info(flavour, data)}
    return report

"""Install the CPU doubles of CUDA (cuda.bindings runtime/driver) and TensorRT, and undo it.

For tests, never for users: ``with installed(): ...`` or the ``gpu_doubles`` fixture
(tests/doubles/conftest.py), or the launcher with_gpu_doubles.py for any ``ptx`` command.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import cudadrv
import cudart
import trt_double
from cuda_state import Gpu

NOTE = (
    "ptx: running under the CPU doubles of CUDA and TensorRT (tests/doubles); "
    "outputs are computed on the CPU and no time here is GPU time"
)
PLAN_SUFFIXES = (".plan", ".engine", ".trt")
_HOOKED = {"on": False}
MODULES = ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.bindings.driver")


def _audit(event: str, args: tuple) -> None:
    if _HOOKED["on"] and event == "open" and isinstance(args[0], (str, os.PathLike)):
        path = os.fspath(args[0])
        if path.endswith(PLAN_SUFFIXES):
            trt_double.PLANS.append(Path(path).resolve())


def trt_version(module: str = "tensorrt_rtx") -> str:
    """The installed TensorRT-RTX version (what `ptx build` wrote into the sidecars)."""
    if os.environ.get("PTX_DOUBLE_TRT_VERSION"):
        return os.environ["PTX_DOUBLE_TRT_VERSION"]
    for dist in ("tensorrt-rtx-cu13", "tensorrt-rtx-cu12", "tensorrt_rtx", "tensorrt"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(dist)
    return "1.7.1.116"


def _clear_caches() -> None:
    from ptx.formats import tensorrt as formats
    from ptx.runtime.cuda import api
    from ptx.runtime.kernels import ops

    api.runtime.cache_clear()
    api.driver.cache_clear()
    ops.kernels_for.cache_clear()
    formats._LOGGERS.pop(trt_double.__name__, None)


@contextlib.contextmanager
def installed(
    capability: tuple[int, int] = (8, 9), trt_module: str = "tensorrt_rtx"
) -> Iterator[Gpu]:
    """Doubles in sys.modules (restored after); yields the simulated GPU."""
    names = (*MODULES, trt_module)
    saved = {n: sys.modules.get(n) for n in names}
    try:
        pkg = importlib.import_module("cuda.bindings")
        with contextlib.suppress(Exception):  # NVRTC stays real; it links the real driver
            importlib.import_module("cuda.bindings.nvrtc")
    except ImportError:
        pkg = None
    attrs = {k: getattr(pkg, k, None) for k in ("runtime", "driver")} if pkg else {}
    gpu = Gpu(capability)
    cudart.STATE["gpu"] = gpu
    cudadrv.MODULES.clear()
    cudadrv.FUNCTIONS.clear()
    trt_double.__version__ = trt_version()
    trt_double.PLANS.clear()
    if pkg is None:
        sys.modules["cuda"] = types.ModuleType("cuda")
        pkg = sys.modules["cuda.bindings"] = types.ModuleType("cuda.bindings")
        sys.modules["cuda"].bindings = pkg
    pkg.runtime, pkg.driver = cudart, cudadrv
    sys.modules["cuda.bindings.runtime"], sys.modules["cuda.bindings.driver"] = cudart, cudadrv
    sys.modules[trt_module] = trt_double
    if not _HOOKED.get("added"):
        sys.addaudithook(_audit)
        _HOOKED["added"] = True
    _HOOKED["on"] = True
    _clear_caches()
    try:
        yield gpu
    finally:
        _HOOKED["on"] = False
        gpu.sync_all() if gpu.sticky is None else None
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod
        for k, v in attrs.items():
            setattr(pkg, k, v) if v is not None else delattr(pkg, k)
        _clear_caches()


def under_doubles() -> bool:
    """True when ptx's CUDA calls go to the double (what the launcher prints once)."""
    return getattr(sys.modules.get("cuda.bindings.runtime"), "PTX_CPU_DOUBLE", False)

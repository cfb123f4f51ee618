"""The one place that knows how mainline TensorRT and TensorRT-RTX differ.

What differs, and what this adapter does about it:

- module: ``tensorrt`` (10.x, 11) vs ``tensorrt_rtx``; ``--trt auto`` prefers mainline.
- typing: mainline 10.x needs ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` (weak
  typing is deprecated since 10.12); 11 is always strongly typed and ignores the flag;
  TensorRT-RTX documents the same flag, so it gets it too.
- targets: TensorRT-RTX compiles ahead of time with no GPU, for compute capabilities set
  on the builder config (default 8.0, 8.6, 8.9, 12.0+; 7.5 only when asked). Mainline
  builds for the GPU it runs on, so it needs one, and a plan runs only on that
  architecture (unless hardware compatibility is requested).
- timing cache: mainline reads and writes it; TensorRT-RTX made it a no-op in 1.2.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

from ptx.errors import InputError, MissingDependency

MODULES = {"tensorrt": "tensorrt", "rtx": "tensorrt_rtx"}
# How each flavour installs: mainline's libraries come from NVIDIA's own index (no ptx extra).
INSTALL = {"tensorrt": "pip install tensorrt", "rtx": "pip install 'ptx[tensorrt-rtx]'"}
PIP_NAMES = {"tensorrt": "tensorrt", "rtx": "tensorrt-rtx-cu13"}  # version pins name these
RTX_DEFAULT_TARGETS = ["8.0", "8.6", "8.9", "12.0+"]  # what an unset config builds for


@dataclass
class Flavour:
    """An imported TensorRT flavour and what it can do."""

    name: str  # "tensorrt" or "rtx"
    trt: Any  # the imported module

    @property
    def module(self) -> str:
        """The Python module name."""
        return MODULES[self.name]

    @property
    def version(self) -> str:
        """The library version string."""
        return str(self.trt.__version__)

    @property
    def major(self) -> int:
        """Major version number."""
        return int(self.version.split(".")[0])

    @property
    def builds_without_gpu(self) -> bool:
        """True when the builder compiles ahead of time (TensorRT-RTX)."""
        return self.name == "rtx"

    @property
    def has_timing_cache(self) -> bool:
        """True when the builder honours a timing cache."""
        return self.name == "tensorrt"

    def network_flags(self) -> int:
        """Creation flags for a strongly typed network."""
        flag = getattr(self.trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
        if flag is None or (self.name == "tensorrt" and self.major >= 11):
            return 0  # always strongly typed there
        return 1 << int(flag)

    def set_targets(self, config: Any, capabilities: list[str] | None) -> list[str]:
        """Apply target compute capabilities; return what the plan is built for."""
        if self.name != "rtx":
            if capabilities:
                raise InputError(
                    "--compute-capability needs TensorRT-RTX; mainline TensorRT builds for "
                    "the GPU it runs on (use --trt rtx, or build on the target GPU)"
                )
            return ["this GPU"]
        if not capabilities:
            return list(RTX_DEFAULT_TARGETS)
        enum = self.trt.ComputeCapability
        known = {k[2:]: v for k, v in enum.__members__.items() if k.startswith("SM")}
        chosen = []
        for cc in capabilities:
            key = cc.replace(".", "").lower().removeprefix("sm")
            if key not in known:
                nice = ", ".join(f"{k[:-1]}.{k[-1]}" for k in known)
                raise InputError(
                    f"compute capability '{cc}' is not one {self.module} "
                    f"{self.version} targets ({nice})"
                )
            chosen.append(known[key])
        config.num_compute_capabilities = len(chosen)
        for i, value in enumerate(chosen):
            config.set_compute_capability(value, i)
        return [f"{str(v.name)[2:-1]}.{str(v.name)[-1]}" for v in chosen]


def _import(name: str) -> Any:
    return importlib.import_module(MODULES[name])


def detect(choice: str = "auto") -> Flavour:
    """The flavour for ``--trt auto|tensorrt|rtx`` (auto: mainline if importable, else RTX)."""
    if choice not in ("auto", "tensorrt", "rtx"):
        raise InputError(f"--trt {choice!r}: use auto, tensorrt or rtx")
    order = ["tensorrt", "rtx"] if choice == "auto" else [choice]
    for name in order:
        try:
            return Flavour(name, _import(name))
        except ImportError:
            continue
    if choice == "auto":
        raise MissingDependency(
            "tensorrt-rtx-cu13",
            "tensorrt-rtx",
            "building a TensorRT engine (no tensorrt or tensorrt_rtx found)",
        )
    raise MissingDependency(MODULES[choice], None, f"--trt {choice}", INSTALL[choice])


def installed() -> dict[str, str]:
    """Flavour name -> version for every flavour importable here."""
    found = {}
    for name in MODULES:
        try:
            found[name] = str(_import(name).__version__)
        except ImportError:
            continue
    return found


_LOGGERS: dict[str, Any] = {}


def capturing_logger(trt: Any, verbose: bool = False) -> Any:
    """The process-wide TensorRT logger for ``trt``, cleared: keeps errors, prints warnings.

    TensorRT registers the first logger it sees and ignores later ones, so there is one
    per module, reused by every build.
    """
    if trt.__name__ not in _LOGGERS:

        class _Logger(trt.ILogger):
            def __init__(self) -> None:
                trt.ILogger.__init__(self)
                self.messages: list[tuple[Any, str]] = []
                self.verbose = False

            def log(self, severity: Any, msg: str) -> None:
                self.messages.append((severity, msg))
                # Errors end up in the one-line BuildError; warnings are shown as they come.
                level = trt.ILogger.Severity.INFO if self.verbose else trt.ILogger.Severity.WARNING
                if trt.ILogger.Severity.ERROR < severity <= level:
                    print(f"[{trt.__name__}] {msg}", file=sys.stderr)

            def errors(self) -> list[str]:
                return [m for s, m in self.messages if s <= trt.ILogger.Severity.ERROR]

        _LOGGERS[trt.__name__] = _Logger()
    logger = _LOGGERS[trt.__name__]
    logger.messages.clear()
    logger.verbose = verbose
    return logger

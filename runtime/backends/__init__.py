"""The backends ptx.runtime can load (a lazy table) and the one rule for their options.

Each backend declares its options as a dataclass (``Engine.Options``). A backend
named by the caller takes exactly what it declares: anything else is one
InputError line naming what it takes. Under ``auto`` an option goes to whichever
candidate declares it (``spin`` to ONNX Runtime, ``hint`` to OpenVINO, ``contexts``
to TensorRT), and an option no candidate declares is the same one-line error.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from ptx.errors import MissingDependency, ModelError
from ptx.runtime.engine import Engine, EngineOptions, unknown_options

# backend -> "module:Engine class", imported on first use: a backend whose module or
# package is missing raises one ModelError line with the install hint.
BACKENDS: dict[str, str] = {
    "onnxruntime": "ptx.runtime.backends.onnxruntime:OnnxRuntimeEngine",
    "tensorrt": "ptx.runtime.backends.tensorrt:TensorRTEngine",
    "openvino": "ptx.runtime.backends.openvino:OpenVINOEngine",
}
AUTO_CANDIDATES = tuple(BACKENDS)  # what `auto` may pick, by file type, device and trial

_EXTRAS = {"openvino": "openvino"}  # backend -> the pip extra that installs it


def engine_class(name: str) -> type[Engine]:
    """The Engine class of backend ``name`` (one ModelError line when it cannot be had)."""
    module, attr = BACKENDS[name].split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("ptx."):
            raise ModelError(f"the {name} backend is not part of this ptx yet") from exc
        if name in _EXTRAS:
            raise MissingDependency(exc.name or name, _EXTRAS[name], f"the {name} backend") from exc
        raise ModelError(
            f"the {name} backend needs the '{exc.name}' package (see `ptx doctor`)"
        ) from exc


def check_auto_options(
    options: Mapping[str, object], candidates: tuple[str, ...] = AUTO_CANDIDATES
) -> None:
    """InputError naming any option that none of ``candidates`` declares."""
    known: set[str] = set()
    for name in candidates:
        known |= set(engine_class(name).Options.names())
    unknown = sorted(set(options) - known)
    if unknown:
        raise unknown_options(unknown, f"auto ({' / '.join(candidates)})", sorted(known))


def backend_options(name: str, options: Mapping[str, object], auto: bool = False) -> EngineOptions:
    """Backend ``name``'s options from ``options``: all of them, or under ``auto`` its own part."""
    cls = engine_class(name).Options
    if auto:
        check_auto_options(options)
        options = cls.declared(options)
    return cls.of(options, f"the {name} backend")


def quiet_pool(backend: str) -> dict[str, object]:
    """The option that parks ONNX Runtime's idle pool threads, for a backend that takes it.

    Decoding threads, an event loop or other instances need the cores between calls;
    under ``auto`` the option reaches ONNX Runtime only, by the rule above.
    """
    return {"spin": False} if backend in ("auto", "onnxruntime") else {}

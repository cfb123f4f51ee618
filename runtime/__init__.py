"""ptx.runtime: load a model and run it. Never imports torch (not even transitively)."""

from __future__ import annotations

from pathlib import Path

from ptx.errors import InputError, ModelError
from ptx.runtime.engine import Engine, TensorInfo

__all__ = ["BACKENDS", "Engine", "TensorInfo", "load"]

ONNX_SUFFIXES = (".onnx",)
PLAN_SUFFIXES = (".plan", ".engine", ".trt")
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors")

# backend -> "module:Engine class", imported on first use. tensorrt lives in
# runtime/trt (issue 6), openvino in runtime/openvino (issue 8); a backend whose module
# or package is missing raises one ModelError line with the install hint.
BACKENDS: dict[str, str] = {
    "onnxruntime": "ptx.runtime.onnxrt:OnnxRuntimeEngine",
    "tensorrt": "ptx.runtime.trt:TensorRTEngine",
    "openvino": "ptx.runtime.openvino:OpenVINOEngine",
}


def _check_file(p: Path) -> None:
    if not p.exists():
        raise ModelError(f"{p}: no such model file; check the path or run `ptx export` first")
    if p.is_dir():
        raise ModelError(f"{p}: is a folder; give a .onnx or .plan file")
    if p.stat().st_size == 0:
        raise ModelError(f"{p}: empty file (0 bytes); re-export or rebuild it")


def pick_backend(path: str | Path, backend: str = "auto") -> str:
    """The backend that will run ``path``: by suffix for ``auto``, else the one named."""
    p = Path(path)
    suffix = p.suffix.lower()
    if backend == "auto":
        if suffix in ONNX_SUFFIXES:
            return "onnxruntime"
        if suffix in PLAN_SUFFIXES:
            return "tensorrt"
        hint = " (a PyTorch file? export it: ptx export)" if suffix in TORCH_SUFFIXES else ""
        raise ModelError(f"{p}: unknown model type '{suffix}' (expected .onnx or .plan){hint}")
    if backend not in BACKENDS:
        raise InputError(f"unknown backend '{backend}' (use auto or {', '.join(BACKENDS)})")
    if backend == "onnxruntime" and suffix in PLAN_SUFFIXES:
        raise ModelError(f"{p}: a TensorRT plan cannot run on onnxruntime; give the .onnx")
    return backend


def load(
    path: str | Path,
    device: str = "cpu",
    threads: int | None = None,
    backend: str = "auto",
    **options: object,
) -> Engine:
    """Load ``.onnx`` (ONNX Runtime) or ``.plan`` (TensorRT) and return an Engine.

    ``threads`` = intra-op threads (default: physical cores); ``options`` go to the
    backend (onnxruntime: ``spin``). Any unusable file raises one ModelError line.
    """
    p = Path(path)
    name = pick_backend(p, backend)
    _check_file(p)
    try:
        cls = engine_class(name)
    except ModelError as exc:
        raise ModelError(f"{p}: {exc}") from exc
    return cls(p, device=device, threads=threads, **options)


def engine_class(name: str) -> type[Engine]:
    """The Engine class of backend ``name`` (one ModelError line when it cannot be had)."""
    import importlib

    module, attr = BACKENDS[name].split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("ptx."):
            raise ModelError(f"the {name} backend is not part of this ptx yet") from exc
        raise ModelError(
            f"the {name} backend needs the '{exc.name}' package (see `ptx doctor`)"
        ) from exc

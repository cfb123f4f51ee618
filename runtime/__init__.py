"""ptx.runtime: load a model and run it. Never imports torch (not even transitively)."""

from __future__ import annotations

from pathlib import Path

from ptx.errors import InputError, ModelError
from ptx.runtime.engine import Engine, TensorInfo

__all__ = ["BACKENDS", "Engine", "TensorInfo", "load"]

ONNX_SUFFIXES = (".onnx",)
PLAN_SUFFIXES = (".plan", ".engine", ".trt")
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors")

# backend -> why it cannot run here yet; None = available. Later issues fill these in
# (tensorrt: issue 6, openvino: issue 8) behind the same Engine interface.
BACKENDS: dict[str, str | None] = {
    "onnxruntime": None,
    "tensorrt": "the TensorRT backend is not available in this ptx yet (GPU runtime, issue 6)",
    "openvino": "the OpenVINO backend is not available in this ptx yet (issue 8)",
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
    if BACKENDS[name] is not None:
        raise ModelError(f"{p}: {BACKENDS[name]}")
    from ptx.runtime.onnxrt import OnnxRuntimeEngine

    return OnnxRuntimeEngine(p, device=device, threads=threads, **options)

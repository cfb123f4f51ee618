"""ptx.runtime: load a model and run it. Never imports torch."""

from __future__ import annotations

from pathlib import Path

from ptx.errors import ModelError
from ptx.runtime.engine import Engine, TensorInfo

__all__ = ["Engine", "TensorInfo", "load"]


def load(path: str | Path, device: str = "cpu", threads: int | None = None, **options) -> Engine:
    """Load ``.onnx`` (ONNX Runtime) or ``.plan`` (TensorRT) and return an Engine."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: no such model file")
    if p.is_dir():
        raise ModelError(f"{p}: is a folder; give a .onnx or .plan file")
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        from ptx.runtime.onnxrt import OnnxRuntimeEngine

        return OnnxRuntimeEngine(p, device=device, threads=threads, **options)
    if suffix in (".plan", ".engine", ".trt"):
        raise ModelError(f"{p}: TensorRT plans need the GPU runtime, which is not installed yet")
    raise ModelError(f"{p}: unknown model type '{suffix}' (expected .onnx or .plan)")

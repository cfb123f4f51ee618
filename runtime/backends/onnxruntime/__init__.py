"""ONNX Runtime backend (CPU by default)."""

from ptx.runtime.backends.onnxruntime.engine import OnnxRuntimeEngine

__all__ = ["OnnxRuntimeEngine"]

"""ONNX Runtime backend (CPU by default)."""

from ptx.runtime.onnxrt.engine import OnnxRuntimeEngine

__all__ = ["OnnxRuntimeEngine"]

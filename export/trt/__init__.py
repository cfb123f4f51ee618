"""ONNX -> TensorRT plan (mainline TensorRT or TensorRT-RTX), its sidecar and inspection.

The flavour adapter and the sidecar format live in ``ptx.formats`` (the runtime reads them
too); they are re-exported here for export's callers.
"""

from __future__ import annotations

from ptx.export.trt.build import BuildReport, build_engine
from ptx.export.trt.inspect_plan import inspect_plan
from ptx.formats.sidecar import read_sidecar, sidecar_path
from ptx.formats.tensorrt import Flavour, detect

__all__ = [
    "BuildReport",
    "Flavour",
    "build_engine",
    "detect",
    "inspect_plan",
    "read_sidecar",
    "sidecar_path",
]
